import scenarios from '../src/scenarios/signaling-flood.js'
import { shortRun } from './short.js'

// Known peer and first contact under the free flood, first contact under the paid one.
shortRun('signaling flood', scenarios, { rows: 3, timeoutMs: 90_000 })
