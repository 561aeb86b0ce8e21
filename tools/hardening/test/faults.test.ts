import scenarios from '../src/scenarios/faults.js'
import { shortRun } from './short.js'

shortRun('faults', scenarios)
