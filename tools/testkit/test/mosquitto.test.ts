import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { startMosquitto } from '../src/mosquitto.js'
import { mqttAnswers } from '../src/mqtt-probe.js'
import { pidAlive, requireBinary } from '../src/process.js'

const run = promisify(execFile)

describe('startMosquitto', () => {
  it('finds mosquitto (fails, never skips, when it is not installed)', () => {
    expect(requireBinary('mosquitto', 'mosquitto')).toMatch(/mosquitto$/)
  })

  it('answers MQTT on loopback only, restarts on the same port, stops by PID', async () => {
    const m = await startMosquitto()
    try {
      expect(m.url).toBe(`mqtt://127.0.0.1:${m.port}`)
      expect(await mqttAnswers(m.port)).toBe(true)
      const { stdout } = await run('ss', ['-Hltnp'])
      const ours = stdout.split('\n').filter((l) => l.includes(`pid=${m.pid},`))
      expect(ours.length).toBeGreaterThan(0)
      for (const line of ours) expect(line).toContain(`127.0.0.1:${m.port}`)
      if (process.getuid?.() === 0) {
        const ps = await run('ps', ['-o', 'uid=', '-p', String(m.pid)])
        expect(ps.stdout.trim()).toBe('65534')
      }

      const first = m.pid
      await m.kill()
      expect(pidAlive(first)).toBe(false)
      expect(await mqttAnswers(m.port, '127.0.0.1', 200)).toBe(false)
      await m.restart()
      expect(m.pid).not.toBe(first)
      expect(await mqttAnswers(m.port)).toBe(true)
    } finally {
      await m.stop()
    }
    expect(pidAlive(m.pid)).toBe(false)
    expect(await mqttAnswers(m.port, '127.0.0.1', 200)).toBe(false)
  })
})
