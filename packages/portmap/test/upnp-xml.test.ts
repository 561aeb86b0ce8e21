import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PortMapError } from '../src/errors.js'
import { childText, descendants, escapeXml, parseXml, type XmlElement } from '../src/upnp/xml.js'

function malformed(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(PortMapError)
    expect((err as PortMapError).code).toBe('PORTMAP_MALFORMED')
    return (err as PortMapError).message
  }
  throw new Error('expected PORTMAP_MALFORMED, it parsed')
}

/** Parses, or throws only PortMapError: what every caller of parseXml relies on. */
function parseOrMalformed(text: string): XmlElement | undefined {
  try {
    return parseXml(text)
  } catch (err) {
    if (!(err instanceof PortMapError) || err.code !== 'PORTMAP_MALFORMED') throw err
    return undefined
  }
}

describe('parseXml', () => {
  it('reads elements, attributes, text, prefixes and entities', () => {
    const root = parseXml(
      '\ufeff<?xml version="1.0"?>\n<!-- head -->\n' +
        '<s:Envelope xmlns:s="urn:x" a=\'1 &amp; 2\'>' +
        '<s:Body><v>a &lt;b&gt; &quot;c&quot; &apos;d&apos; &#65;&#x42;&#x1F600;</v>' +
        '<empty/><sp  x = "y" /><c><![CDATA[<raw> & ]]></c><?pi inside?></s:Body></s:Envelope>\n',
    )
    expect(root.name).toBe('s:Envelope')
    expect(root.localName).toBe('Envelope')
    expect(root.attributes.get('a')).toBe('1 & 2')
    const body = root.children[0]!
    expect(childText(body, 'v')).toBe('a <b> "c" \'d\' AB😀')
    expect(childText(body, 'empty')).toBe('')
    expect(body.children[1]!.children).toEqual([])
    expect(body.children[2]!.attributes.get('x')).toBe('y')
    expect(childText(body, 'c')).toBe('<raw> &')
  })

  it('skips a DOCTYPE, internal subset included, without expanding its entities', () => {
    const root = parseXml('<!DOCTYPE r [<!ENTITY e "boom">]><r>ok</r>')
    expect(root.text).toBe('ok')
    malformed(() => parseXml('<!DOCTYPE r [<!ENTITY e "boom">]><r>&e;</r>'))
  })

  it('finds descendants in document order', () => {
    const root = parseXml('<r><s><n>1</n><x><n>2</n></x></s><n>3</n></r>')
    expect(descendants(root, 'n').map((e) => e.text)).toEqual(['1', '2', '3'])
  })

  it.each([
    ['empty', ''],
    ['text only', 'hello'],
    ['unclosed', '<a><b></b>'],
    ['mismatched', '<a><b></a></b>'],
    ['stray end tag', '<a></a></b>'],
    ['two roots', '<a/><b/>'],
    ['text after root', '<a/>x'],
    ['unknown entity', '<a>&nbsp;</a>'],
    ['bare ampersand', '<a>fish & chips</a>'],
    ['surrogate reference', '<a>&#xD800;</a>'],
    ['reference out of range', '<a>&#x110000;</a>'],
    ['NUL reference', '<a>&#0;</a>'],
    ['unquoted attribute', '<a x=1/>'],
    ['attribute without value', '<a x/>'],
    ['duplicate attribute', '<a x="1" x="2"/>'],
    ['< in attribute', '<a x="<"/>'],
    ['unterminated comment', '<a><!-- </a>'],
    ['unterminated CDATA', '<a><![CDATA[ </a>'],
    ['unterminated tag', '<a'],
    ['empty tag name', '< a/>'],
    ['DOCTYPE inside', '<a><!DOCTYPE a></a>'],
    ['CDATA outside', '<![CDATA[x]]><a/>'],
  ])('rejects %s', (_name, text) => {
    malformed(() => parseXml(text))
  })

  it('enforces the depth, element and length limits', () => {
    expect(malformed(() => parseXml('<a>'.repeat(50_000)))).toMatch(/deeper than 32/)
    const deep = (n: number) => '<a>'.repeat(n) + '</a>'.repeat(n)
    expect(parseXml(deep(32)).name).toBe('a')
    malformed(() => parseXml(deep(33)))
    expect(malformed(() => parseXml(`<r>${'<e/>'.repeat(5000)}</r>`))).toMatch(/more than 4096/)
    expect(parseXml(`<r>${'<e/>'.repeat(10)}</r>`, { maxElements: 11 }).children).toHaveLength(10)
    malformed(() => parseXml(`<r>${' '.repeat(300 * 1024)}</r>`))
    malformed(() => parseXml('<r>abc</r>', { maxLength: 5 }))
  })

  it('parses a huge flat document in linear time', () => {
    const text = `<r>${'&amp;x'.repeat(40_000)}</r>`
    // CPU time, not wall time: a loaded machine that deschedules the process does not inflate it.
    const cpu0 = process.cpuUsage()
    expect(parseXml(text).text.length).toBe(80_000)
    const cpu = process.cpuUsage(cpu0)
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(500)
  })
})

const nameArb = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,8}(?::[A-Za-z][A-Za-z0-9]{0,5})?$/)

interface Tree {
  name: string
  attributes: [string, string][]
  text: string
  children: Tree[]
}

/** Trees up to `depth` levels below the root, a few children each. */
function treeOf(depth: number): fc.Arbitrary<Tree> {
  return fc.record({
    name: nameArb,
    attributes: fc.uniqueArray(fc.tuple(nameArb, fc.string({ unit: 'binary', maxLength: 12 })), {
      maxLength: 3,
      selector: ([k]) => k,
    }),
    text: fc.string({ unit: 'binary', maxLength: 16 }),
    children: depth === 0 ? fc.constant([]) : fc.array(treeOf(depth - 1), { maxLength: 3 }),
  })
}
const treeArb = treeOf(4)

function serialize(t: Tree): string {
  const attrs = t.attributes.map(([k, v]) => ` ${k}="${escapeXml(v)}"`).join('')
  const inner = escapeXml(t.text) + t.children.map(serialize).join('')
  return inner === '' ? `<${t.name}${attrs}/>` : `<${t.name}${attrs}>${inner}</${t.name}>`
}

function shape(e: XmlElement): Tree {
  return {
    name: e.name,
    attributes: [...e.attributes],
    text: e.text,
    children: e.children.map(shape),
  }
}

describe('parseXml properties', () => {
  it('round-trips any tree of escaped text and attributes', () => {
    fc.assert(
      fc.property(treeArb, (tree) => {
        expect(shape(parseXml(serialize(tree)))).toEqual(tree)
      }),
      { numRuns: 500 },
    )
  })

  it('escapeXml output decodes back to the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(parseXml(`<a>${escapeXml(s)}</a>`).text).toBe(s)
        expect(parseXml(`<a v="${escapeXml(s)}"/>`).attributes.get('v')).toBe(s)
      }),
    )
  })

  it('never throws anything but PORTMAP_MALFORMED on random text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (s) => {
        parseOrMalformed(s)
      }),
      { numRuns: 2000 },
    )
  })

  it('never throws anything but PORTMAP_MALFORMED on markup-heavy text', () => {
    const piece = fc.constantFrom(
      '<',
      '>',
      '</',
      '/>',
      '<a>',
      '</a>',
      '<b x="1">',
      '</b>',
      '&',
      ';',
      '&amp;',
      '&#',
      '<!--',
      '-->',
      '<![CDATA[',
      ']]>',
      '<?',
      '?>',
      '<!DOCTYPE',
      '[',
      ']',
      '"',
      "'",
      '=',
      ' ',
      'x',
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        parseOrMalformed(pieces.join(''))
      }),
      { numRuns: 3000 },
    )
  })

  it('never throws anything but PORTMAP_MALFORMED on mutated valid documents', () => {
    fc.assert(
      fc.property(
        treeArb,
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.string({ maxLength: 3 })), {
          maxLength: 4,
        }),
        (tree, edits) => {
          let text = serialize(tree)
          for (const [at, del, ins] of edits) {
            const i = at % (text.length + 1)
            text = text.slice(0, i) + ins + text.slice(i + del)
          }
          parseOrMalformed(text)
        },
      ),
      { numRuns: 1000 },
    )
  })
})
