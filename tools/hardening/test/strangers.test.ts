import scenarios from '../src/scenarios/strangers.js'
import { shortRun } from './short.js'

shortRun('strangers on the listener', scenarios, { verbose: true })
