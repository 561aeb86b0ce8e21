// One end of one measurement, in its own process (clean heap, its own CPU):
//   worker.ts serve   <impl> <metric> <quick|full>            prints {"address": …}, runs until stdin ends
//   worker.ts measure <impl> <metric> <quick|full> <address>  prints {"value": …}
import { IMPLEMENTATIONS, type ImplName } from './impl/index.js'
import { FULL, MEASURE, type Metric, QUICK, serve } from './measure.js'

const [mode, implName, metric, size, address] = process.argv.slice(2) as [
  string,
  ImplName,
  Metric,
  string,
  string,
]
const sizes = size === 'quick' ? QUICK : FULL
const impl = await IMPLEMENTATIONS[implName]()

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

if (mode === 'serve') {
  const listener = await impl.listen((stream) => serve(metric, sizes, stream))
  print({ address: listener.address })
  process.stdin.resume()
  process.stdin.once('end', () => {
    // Closing a node with many connections can take a while; the parent is done with us.
    setTimeout(() => process.exit(0), 2_000).unref()
    listener.close().finally(() => process.exit(0))
  })
} else {
  const dialer = await impl.dialer(address)
  const value = await MEASURE[metric](dialer, sizes)
  print({ value })
  setTimeout(() => process.exit(0), 2_000).unref()
  await dialer.close().catch(() => {})
  process.exit(0)
}
