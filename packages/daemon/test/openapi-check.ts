import type { Answer } from './client.js'

// A checker for the subset of OpenAPI 3.1 / JSON Schema the daemon's document uses: $ref,
// type, properties, required, additionalProperties: false, items, enum, minimum, maximum.

type Json = Record<string, unknown>

function resolve(doc: Json, node: unknown): Json {
  let n = node as Json
  while (n && typeof n.$ref === 'string') {
    n = (n.$ref as string)
      .slice(2)
      .split('/')
      .reduce<unknown>((o, k) => (o as Json)[k], doc) as Json
  }
  return n
}

/** What is wrong with `value` under `schema` (empty when it conforms). */
export function validate(doc: Json, schema: unknown, value: unknown, at = '$'): string[] {
  const s = resolve(doc, schema)
  const problems: string[] = []
  const type = s.type as string | undefined
  const typeOf = Array.isArray(value)
    ? 'array'
    : value === null
      ? 'null'
      : Number.isInteger(value)
        ? 'integer'
        : typeof value
  if (type && !(type === typeOf || (type === 'number' && typeOf === 'integer'))) {
    return [`${at}: expected ${type}, got ${typeOf}`]
  }
  if (Array.isArray(s.enum) && !s.enum.includes(value)) problems.push(`${at}: not in enum`)
  if (typeof s.minimum === 'number' && (value as number) < s.minimum) problems.push(`${at}: < min`)
  if (typeof s.maximum === 'number' && (value as number) > s.maximum) problems.push(`${at}: > max`)
  if (type === 'object') {
    const props = (s.properties ?? {}) as Json
    for (const k of (s.required ?? []) as string[]) {
      if (!(k in (value as Json))) problems.push(`${at}: missing ${k}`)
    }
    for (const [k, v] of Object.entries(value as Json)) {
      if (k in props) problems.push(...validate(doc, props[k], v, `${at}.${k}`))
      else if (s.additionalProperties === false) problems.push(`${at}: unexpected key ${k}`)
    }
  }
  if (type === 'array' && s.items) {
    ;(value as unknown[]).forEach((v, i) => {
      problems.push(...validate(doc, s.items, v, `${at}[${i}]`))
    })
  }
  return problems
}

/**
 * Checks every answer against the document (the status is documented for that path and
 * method, the media type matches, a JSON body validates) and that every documented path and
 * method was called at least once. Returns the problems.
 */
export function checkAnswers(doc: Json, answers: readonly Answer[]): string[] {
  const problems: string[] = []
  const paths = doc.paths as Record<string, Json>
  const hit = new Set<string>()
  for (const a of answers) {
    const op = paths[a.template]?.[a.method.toLowerCase()] as Json | undefined
    if (!op) {
      if (![401, 403, 404, 405].includes(a.status))
        problems.push(`${a.method} ${a.template}: not in the document`)
      continue
    }
    hit.add(`${a.method.toLowerCase()} ${a.template}`)
    const responses = op.responses as Json
    const response = responses[String(a.status)]
    if (!response) {
      problems.push(`${a.method} ${a.template}: status ${a.status} not documented`)
      continue
    }
    const content = resolve(doc, response).content as Json | undefined
    const where = `${a.method} ${a.template} ${a.status}`
    if (!content) {
      if (a.body.length > 0) problems.push(`${where}: documented without a body, got one`)
      continue
    }
    const type = (a.headers.get('content-type') ?? '').split(';')[0] as string
    const media = content[type] as Json | undefined
    if (!media) {
      problems.push(`${where}: media type ${type} not documented`)
      continue
    }
    if (type === 'application/json') {
      problems.push(...validate(doc, media.schema, a.json).map((p) => `${where}: ${p}`))
    }
  }
  for (const [path, item] of Object.entries(paths)) {
    for (const method of ['get', 'post', 'delete', 'put', 'patch']) {
      if (item[method] && !hit.has(`${method} ${path}`)) {
        problems.push(`${method.toUpperCase()} ${path}: documented but never called`)
      }
    }
  }
  return problems
}
