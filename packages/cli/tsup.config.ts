import { defineConfig } from 'tsup'
import base from '../../tsup.config.js'

// The CLI ships its `p2pd` binary next to the library entry.
export default defineConfig({ ...base, entry: ['src/index.ts', 'src/bin.ts'] })
