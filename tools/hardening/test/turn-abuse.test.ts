import scenarios from '../src/scenarios/turn-abuse.js'
import { shortRun } from './short.js'

shortRun('TURN abuse', scenarios, { verbose: true })
