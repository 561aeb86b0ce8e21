import { Readable } from 'node:stream'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  attr,
  createMessage,
  createStunFrameStream,
  decodeMessage,
  encodeMessage,
  readAttributes,
  StunClass,
  type StunFrame,
  StunFramer,
} from '../src/index.js'

const message = (software: string) =>
  encodeMessage(
    createMessage({ method: 1, cls: StunClass.Request, attributes: [attr.software(software)] }),
    { fingerprint: true },
  )

/** ChannelData: channel number, length, data (padded to 4 on a stream). */
const channelData = (channel: number, data: Buffer) => {
  const head = Buffer.alloc(4)
  head.writeUInt16BE(channel, 0)
  head.writeUInt16BE(data.length, 2)
  const pad = Buffer.alloc((4 - (data.length % 4)) % 4)
  return Buffer.concat([head, data, pad])
}

const softwareOf = (f: StunFrame) => readAttributes(decodeMessage(f.data)).software

describe('StunFramer', () => {
  it('cuts coalesced messages: three in one chunk', () => {
    const framer = new StunFramer()
    const frames = framer.push(Buffer.concat([message('a'), message('bb'), message('ccc')]))
    expect(frames.map(softwareOf)).toEqual(['a', 'bb', 'ccc'])
    expect(framer.buffered).toBe(0)
  })

  it('reassembles a message split byte by byte, and across a header boundary', () => {
    const framer = new StunFramer()
    const bytes = Buffer.concat([message('split'), message('next')])
    const frames: StunFrame[] = []
    for (let i = 0; i < bytes.length; i++) frames.push(...framer.push(bytes.subarray(i, i + 1)))
    expect(frames.map(softwareOf)).toEqual(['split', 'next'])
  })

  it('any split of any sequence of messages gives the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (texts, cuts) => {
          const bytes = Buffer.concat(texts.map(message))
          const points = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b)
          const framer = new StunFramer()
          const out: StunFrame[] = []
          let prev = 0
          for (const p of [...points, bytes.length]) {
            out.push(...framer.push(bytes.subarray(prev, p)))
            prev = p
          }
          expect(out.map(softwareOf)).toEqual(texts)
          expect(framer.buffered).toBe(0)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('cuts TURN ChannelData (with stream padding) when asked, rejects it otherwise', () => {
    const bytes = Buffer.concat([
      message('x'),
      channelData(0x4001, Buffer.from('hello')),
      message('y'),
    ])
    const frames = new StunFramer({ channelData: true }).push(bytes)
    expect(frames.map((f) => f.kind)).toEqual(['stun', 'channel-data', 'stun'])
    expect(frames[1]?.data.subarray(4).toString()).toBe('hello')
    expect(frames[1]?.data).toHaveLength(9)
    const strict = new StunFramer()
    expect(() => strict.push(bytes)).toThrow(expect.objectContaining({ code: 'STUN_BAD_FRAME' }))
    // After an error the framer stays failed.
    expect(() => strict.push(message('z'))).toThrow(
      expect.objectContaining({ code: 'STUN_BAD_FRAME' }),
    )
  })

  it('bounds frame size before buffering the body', () => {
    const framer = new StunFramer({ maxFrameBytes: 100 })
    const head = Buffer.alloc(20)
    head.writeUInt16BE(1, 0)
    head.writeUInt16BE(1000, 2)
    expect(() => framer.push(head)).toThrow(expect.objectContaining({ code: 'STUN_TOO_LARGE' }))
    expect(framer.buffered).toBe(0)
  })

  it('createStunFrameStream emits frames from a byte stream', async () => {
    const bytes = Buffer.concat([message('one'), message('two')])
    const chunks = [bytes.subarray(0, 7), bytes.subarray(7, 30), bytes.subarray(30)]
    const frames: StunFrame[] = []
    for await (const f of Readable.from(chunks).pipe(createStunFrameStream())) frames.push(f)
    expect(frames.map(softwareOf)).toEqual(['one', 'two'])
  })
})
