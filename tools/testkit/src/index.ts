/**
 * @packageDocumentation
 * Private test kit: launchers for the real servers the tests run against (mosquitto, coturn,
 * chrony) and small helpers. Import launchers by file: `@p2pd/testkit/coturn`.
 */
export { freePort } from './ports.js'
export {
  MissingServerError,
  requireBinary,
  type ServerProcess,
  type SpawnServerOptions,
  spawnServer,
} from './process.js'
