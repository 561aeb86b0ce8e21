import { MemorySignalingHub } from '@p2pd/interface'
import { afterEach, describe, it } from 'vitest'
import { signalingCompliance } from '../src/index.js'

// The reference backend passes, run exactly as a user would run it under vitest.
signalingCompliance(
  'MemorySignalingHub',
  async () => {
    const hub = new MemorySignalingHub()
    const a = hub.connect('node-a')
    const b = hub.connect('node-b')
    await Promise.all([a.start(), b.start()])
    const dispose = async () => void (await Promise.all([a.close(), b.close()]))
    return { a, b, aId: 'node-a', bId: 'node-b', dispose }
  },
  { describe, it, afterEach },
)
