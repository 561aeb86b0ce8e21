import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root and this package's folder (examples are written inside it). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** A fenced code block whose info string carries the word `runnable`. */
export interface ReadmeExample {
  /** README path relative to the repository root. */
  readme: string
  /** 1-based line of the opening fence. */
  line: number
  code: string
}

/** Opening fence with its info string; a closing fence is the same backticks alone. */
const FENCE = /^(`{3,})(.*)$/

/** Every ```` ```ts runnable ```` block of one markdown text. */
export function runnableBlocks(markdown: string, readme: string): ReadmeExample[] {
  const lines = markdown.split('\n')
  const found: ReadmeExample[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? '')
    if (!open) continue
    const [, ticks = '```', info = ''] = open
    const end = lines.findIndex((l, j) => j > i && l.trimEnd() === ticks)
    if (end < 0) throw new Error(`${readme}:${i + 1}: unclosed code fence`)
    if (info.trim().split(/\s+/).includes('runnable')) {
      found.push({ readme, line: i + 1, code: lines.slice(i + 1, end).join('\n') })
    }
    i = end
  }
  return found
}

/** The README files examples are taken from: the root one and every package's. */
export function readmeFiles(root = repoRoot): string[] {
  const packages = readdirSync(join(root, 'packages'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join('packages', d.name, 'README.md'))
  return ['README.md', ...packages].filter((f) => {
    try {
      readFileSync(join(root, f))
      return true
    } catch {
      return false
    }
  })
}

export function findRunnableExamples(root = repoRoot): ReadmeExample[] {
  return readmeFiles(root).flatMap((f) => runnableBlocks(readFileSync(join(root, f), 'utf8'), f))
}

export interface ExampleRun {
  exitCode: number | null
  timedOut: boolean
  stdout: string
  stderr: string
  ms: number
}

/**
 * Writes the example to a temporary `.mts` file inside this package (so `@p2pd/*` resolve
 * through the workspace, from source) and runs it with Node + tsx, killed after `timeoutMs`.
 */
export async function runExample(example: ReadmeExample, timeoutMs = 30_000): Promise<ExampleRun> {
  const dir = join(packageDir, '.tmp-examples')
  mkdirSync(dir, { recursive: true })
  const name = `${example.readme.replace(/[/.]/g, '_')}-L${example.line}.mts`
  const file = join(dir, name)
  writeFileSync(file, `${example.code}\n`)
  const started = performance.now()
  try {
    return await new Promise<ExampleRun>((done, fail) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--conditions=@p2pd/source', relative(packageDir, file)],
        { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let stdout = ''
      let stderr = ''
      let timedOut = false
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d
      })
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d
      })
      const timer = setTimeout(() => {
        timedOut = true
        child.kill('SIGKILL')
      }, timeoutMs)
      child.once('error', (err) => {
        clearTimeout(timer)
        fail(err)
      })
      child.once('close', (exitCode) => {
        clearTimeout(timer)
        done({ exitCode, timedOut, stdout, stderr, ms: performance.now() - started })
      })
    })
  } finally {
    rmSync(file, { force: true })
  }
}
