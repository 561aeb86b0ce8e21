import { PortMapError } from '../errors.js'

/**
 * A tiny, bounded XML reader: enough for UPnP device descriptions and SOAP envelopes, nothing
 * more. It builds an element tree (names, attributes, character data), decodes the five
 * predefined entities and numeric character references, keeps CDATA as text and skips
 * comments, processing instructions and a DOCTYPE (whose internal subset it never
 * interprets, so no entity expansion). Everything it does not like — unbalanced or unknown
 * tags, unknown entities, text outside the root, a document over the size, depth or element
 * limits — is a `PORTMAP_MALFORMED` {@link PortMapError}. It runs in one pass, linear in the
 * input, with no backtracking regular expressions.
 */

/** One element of a parsed document. */
export interface XmlElement {
  /** The qualified name as written (`s:Envelope`). */
  readonly name: string
  /** The name without its namespace prefix (`Envelope`); UPnP lookups go by this. */
  readonly localName: string
  readonly attributes: ReadonlyMap<string, string>
  readonly children: readonly XmlElement[]
  /** The decoded character data directly inside this element (not its children's). */
  readonly text: string
}

/** Bounds of {@link parseXml}; a document beyond any of them is `PORTMAP_MALFORMED`. */
export interface XmlLimits {
  /** Maximum length of the source in UTF-16 code units (default 256 Ki). */
  readonly maxLength?: number
  /** Maximum nesting depth, the root being depth 1 (default 32). */
  readonly maxDepth?: number
  /** Maximum number of elements (default 4096). */
  readonly maxElements?: number
}

/** The limits {@link parseXml} applies by default: a root description is a few KiB. */
export const DEFAULT_XML_LIMITS: Required<XmlLimits> = {
  maxLength: 256 * 1024,
  maxDepth: 32,
  maxElements: 4096,
}

const PREDEFINED_ENTITIES: ReadonlyMap<string, string> = new Map([
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
])

/** Longest entity reference we read (`&#x10FFFF;` and the named ones fit easily). */
const MAX_ENTITY_LENGTH = 12

/** Characters that end a tag name. */
const NAME_END = new Set([' ', '\t', '\r', '\n', '/', '>'])
/** A name must not contain markup characters (lenient otherwise: UPnP only uses ASCII). */
const BAD_NAME = /[<>/='"&!?\s]/

interface OpenElement {
  readonly name: string
  readonly attributes: Map<string, string>
  readonly children: XmlElement[]
  readonly text: string[]
}

function malformed(message: string): PortMapError {
  return new PortMapError('PORTMAP_MALFORMED', `XML: ${message}`)
}

/**
 * Parses one XML document into its root element.
 *
 * @throws {@link PortMapError} `PORTMAP_MALFORMED` on anything that is not a well-formed,
 *   balanced document within `limits`.
 */
export function parseXml(source: string, limits: XmlLimits = {}): XmlElement {
  const { maxLength, maxDepth, maxElements } = { ...DEFAULT_XML_LIMITS, ...limits }
  if (source.length > maxLength) {
    throw malformed(`document of ${source.length} characters exceeds ${maxLength}`)
  }
  const stack: OpenElement[] = []
  let root: XmlElement | undefined
  let elements = 0
  let pos = source.charCodeAt(0) === 0xfeff ? 1 : 0

  const addText = (raw: string) => {
    const top = stack[stack.length - 1]
    if (top) top.text.push(decodeEntities(raw))
    else if (raw.trim() !== '') throw malformed('text outside the root element')
  }

  while (pos < source.length) {
    const lt = source.indexOf('<', pos)
    if (lt === -1) {
      addText(source.slice(pos))
      break
    }
    if (lt > pos) addText(source.slice(pos, lt))
    pos = lt
    if (source.startsWith('<!--', pos)) {
      pos = skipPast(source, '-->', pos + 4, 'unterminated comment')
    } else if (source.startsWith('<![CDATA[', pos)) {
      const end = source.indexOf(']]>', pos + 9)
      if (end === -1) throw malformed('unterminated CDATA section')
      const top = stack[stack.length - 1]
      if (!top) throw malformed('CDATA outside the root element')
      top.text.push(source.slice(pos + 9, end))
      pos = end + 3
    } else if (source.startsWith('<?', pos)) {
      pos = skipPast(source, '?>', pos + 2, 'unterminated processing instruction')
    } else if (source.startsWith('<!', pos)) {
      if (stack.length > 0 || root) throw malformed('declaration inside the document')
      pos = skipDoctype(source, pos + 2)
    } else if (source.startsWith('</', pos)) {
      const { name, end } = readName(source, pos + 2)
      const close = skipSpaces(source, end)
      if (source[close] !== '>') throw malformed(`bad end tag </${name}`)
      const open = stack.pop()
      if (!open || open.name !== name) {
        throw malformed(`end tag </${name}> does not close <${open?.name ?? '(none)'}>`)
      }
      finish(open)
      pos = close + 1
    } else {
      if (root) throw malformed('content after the root element')
      if (stack.length >= maxDepth) throw malformed(`nesting deeper than ${maxDepth}`)
      if (++elements > maxElements) throw malformed(`more than ${maxElements} elements`)
      const { name, end } = readName(source, pos + 1)
      const open: OpenElement = { name, attributes: new Map(), children: [], text: [] }
      pos = readAttributes(source, end, open.attributes)
      if (source.startsWith('/>', pos)) {
        finish(open)
        pos += 2
      } else {
        stack.push(open)
        pos += 1
      }
    }
  }
  const unclosed = stack[stack.length - 1]
  if (unclosed) throw malformed(`unclosed <${unclosed.name}>`)
  if (!root) throw malformed('no root element')
  return root

  function finish(open: OpenElement): void {
    const colon = open.name.indexOf(':')
    const element: XmlElement = {
      name: open.name,
      localName: colon === -1 ? open.name : open.name.slice(colon + 1),
      attributes: open.attributes,
      children: open.children,
      text: open.text.join(''),
    }
    const parent = stack[stack.length - 1]
    if (parent) parent.children.push(element)
    else root = element
  }
}

function skipPast(source: string, terminator: string, from: number, what: string): number {
  const end = source.indexOf(terminator, from)
  if (end === -1) throw malformed(what)
  return end + terminator.length
}

/** Skips `<!DOCTYPE …>` (or another `<!…>` declaration), brackets of an internal subset included. */
function skipDoctype(source: string, from: number): number {
  let depth = 0
  let quote = ''
  for (let i = from; i < source.length; i++) {
    const c = source[i]
    if (quote) {
      if (c === quote) quote = ''
    } else if (c === '"' || c === "'") quote = c
    else if (c === '[') depth++
    else if (c === ']') depth--
    else if (c === '>' && depth <= 0) return i + 1
  }
  throw malformed('unterminated declaration')
}

function skipSpaces(source: string, from: number): number {
  let i = from
  while (i < source.length && isSpace(source[i])) i++
  return i
}

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n'
}

function readName(source: string, from: number): { name: string; end: number } {
  let end = from
  while (end < source.length && !NAME_END.has(source[end] as string)) end++
  const name = source.slice(from, end)
  if (name === '' || BAD_NAME.test(name)) throw malformed(`bad tag name "${name.slice(0, 40)}"`)
  return { name, end }
}

/** Reads attributes up to `>` or `/>`; returns the index of that `>` or `/>`. */
function readAttributes(source: string, from: number, into: Map<string, string>): number {
  let pos = from
  for (;;) {
    pos = skipSpaces(source, pos)
    const c = source[pos]
    if (c === undefined) throw malformed('unterminated start tag')
    if (c === '>' || source.startsWith('/>', pos)) return pos
    let nameEnd = pos
    while (nameEnd < source.length && !/[\s=/>]/.test(source[nameEnd] as string)) nameEnd++
    const name = source.slice(pos, nameEnd)
    if (name === '' || BAD_NAME.test(name)) throw malformed(`bad attribute name "${name}"`)
    pos = skipSpaces(source, nameEnd)
    if (source[pos] !== '=') throw malformed(`attribute ${name} has no value`)
    pos = skipSpaces(source, pos + 1)
    const quote = source[pos]
    if (quote !== '"' && quote !== "'") throw malformed(`attribute ${name} is not quoted`)
    const close = source.indexOf(quote, pos + 1)
    if (close === -1) throw malformed(`unterminated value of attribute ${name}`)
    const raw = source.slice(pos + 1, close)
    if (raw.includes('<')) throw malformed(`"<" in the value of attribute ${name}`)
    if (into.has(name)) throw malformed(`duplicate attribute ${name}`)
    into.set(name, decodeEntities(raw))
    pos = close + 1
  }
}

/** Decodes the predefined entities and character references; any other `&` is malformed. */
export function decodeEntities(raw: string): string {
  let amp = raw.indexOf('&')
  if (amp === -1) return raw
  let out = ''
  let pos = 0
  while (amp !== -1) {
    out += raw.slice(pos, amp)
    const semi = raw.indexOf(';', amp + 1)
    if (semi === -1 || semi - amp > MAX_ENTITY_LENGTH) throw malformed('bare "&" in text')
    const ref = raw.slice(amp + 1, semi)
    out += decodeReference(ref)
    pos = semi + 1
    amp = raw.indexOf('&', pos)
  }
  return out + raw.slice(pos)
}

function decodeReference(ref: string): string {
  const named = PREDEFINED_ENTITIES.get(ref)
  if (named !== undefined) return named
  const digits = /^#([0-9]{1,7})$/.exec(ref)?.[1]
  const hex = /^#x([0-9a-fA-F]{1,6})$/.exec(ref)?.[1]
  const code = digits ? Number.parseInt(digits, 10) : hex ? Number.parseInt(hex, 16) : Number.NaN
  if (!(code > 0 && code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) {
    throw malformed(`unknown entity &${ref};`)
  }
  return String.fromCodePoint(code)
}

/**
 * Escapes text for an XML element or a quoted attribute value: the five markup characters,
 * and CR (which a parser would otherwise turn into LF).
 */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\r]/g, (c) => XML_ESCAPES[c] as string)
}

const XML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\r': '&#13;',
}

/** The first child of `parent` with this local name. */
export function childElement(parent: XmlElement, localName: string): XmlElement | undefined {
  return parent.children.find((c) => c.localName === localName)
}

/** The trimmed text of the first child with this local name, if there is one. */
export function childText(parent: XmlElement, localName: string): string | undefined {
  return childElement(parent, localName)?.text.trim()
}

/** Every element below `root` (depth first, document order) with this local name. */
export function descendants(root: XmlElement, localName: string): XmlElement[] {
  const found: XmlElement[] = []
  // Explicit stack: the depth is bounded by the parser anyway, but this never recurses.
  const pending: XmlElement[] = [...root.children].reverse()
  for (let el = pending.pop(); el; el = pending.pop()) {
    if (el.localName === localName) found.push(el)
    for (let i = el.children.length - 1; i >= 0; i--) pending.push(el.children[i] as XmlElement)
  }
  return found
}
