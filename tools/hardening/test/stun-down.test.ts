import scenarios from '../src/scenarios/stun-down.js'
import { shortRun } from './short.js'

shortRun('STUN down at start', scenarios)
