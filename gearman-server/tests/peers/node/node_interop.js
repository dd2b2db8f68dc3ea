// The node.js `gearman` package (npm gearman@2.1.0) against a job server: its worker and its
// client, each also with the other side written in Rust.
//
// Usage: node node_interop.js HOST PORT
//
// Serves node:rev (reversed bytes), node:fail (WORK_FAIL) and node:exc (WORK_EXCEPTION) with the
// package's worker, which grabs with plain GRAB_JOB; runs client checks on its own jobs and on
// rs:upper served by the Rust test's worker; prints "CLIENT OK" and keeps serving until stdin
// closes, then prints "BYE". Every wait is bounded: WAIT_MS per step, TOTAL_MS for the script.
'use strict'

const gearman = require('gearman')

const WAIT_MS = 10000
const TOTAL_MS = 60000

function fail(message) {
  process.stderr.write(`node peer: ${message}\n`)
  process.exit(1)
}

setTimeout(() => fail(`not done within ${TOTAL_MS} ms`), TOTAL_MS).unref()

function connected(peer) {
  return new Promise((resolve) => peer.connect(resolve))
}

/// The first `event` from `peer` whose payload passes `accept`, within WAIT_MS.
function next(peer, event, accept, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      peer.removeEventListener(event, listener)
      reject(new Error(`no ${event} for ${what} within ${WAIT_MS} ms`))
    }, WAIT_MS)
    const listener = (...args) => {
      if (!accept(...args)) return
      clearTimeout(timer)
      peer.removeEventListener(event, listener)
      resolve(args[0])
    }
    peer.on(event, listener)
  })
}

/// Follows a client's jobs from the moment it connects: JOB_CREATED answers submissions in
/// order, and a job may end in the same read as its JOB_CREATED, so endings are kept by handle
/// until asked for.
function tracker(client) {
  const created = [] // resolvers waiting for a JOB_CREATED, in submission order
  const ended = new Map() // handle -> ending not yet asked for
  const waiting = new Map() // handle -> resolver
  client.on('JOB_CREATED', (handle) => {
    const resolve = created.shift()
    if (resolve) resolve(handle)
  })
  const end = (raw, ending) => {
    // gearmand sends a converted WORK_EXCEPTION as WORK_FAIL `handle\0`, and the package keeps
    // the NUL in the handle (protocol.md §8.1): match after stripping one.
    const handle = raw.endsWith('\0') ? raw.slice(0, -1) : raw
    const resolve = waiting.get(handle)
    if (resolve) {
      waiting.delete(handle)
      resolve(ending)
    } else {
      ended.set(handle, ending)
    }
  }
  client.on('WORK_COMPLETE', (j) => end(j.handle, { end: 'complete', data: j.payload }))
  client.on('WORK_FAIL', (j) => end(j.handle, { end: 'fail' }))
  client.on('WORK_EXCEPTION', (j) => end(j.handle, { end: 'exception', text: j.exception }))

  const within = (promise, what) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: nothing within ${WAIT_MS} ms`)), WAIT_MS)
      promise.then((v) => {
        clearTimeout(timer)
        resolve(v)
      })
    })

  return {
    /// Submits a job and resolves to its handle once JOB_CREATED comes.
    submit(func, data, options = {}) {
      const handle = new Promise((resolve) => created.push(resolve))
      client.submitJob(func, data, options)
      return within(handle, `JOB_CREATED for ${func}`)
    },
    /// Resolves to how the job ended: {end: 'complete', data} | {end: 'fail'} |
    /// {end: 'exception', text}.
    ending(handle) {
      if (ended.has(handle)) {
        const e = ended.get(handle)
        ended.delete(handle)
        return Promise.resolve(e)
      }
      return within(new Promise((resolve) => waiting.set(handle, resolve)), `the end of ${handle}`)
    },
    /// Submits a foreground job and waits for its ending.
    async call(func, data) {
      return this.ending(await this.submit(func, data))
    },
  }
}

function serve(worker) {
  const onJob = (job) => {
    if (job.func_name === 'node:rev') {
      worker.sendWorkComplete(job.handle, Buffer.from(job.payload).reverse())
    } else if (job.func_name === 'node:fail') {
      worker.sendWorkFail(job.handle)
    } else if (job.func_name === 'node:exc') {
      worker.sendWorkException(job.handle, 'node says no')
    } else {
      worker.sendWorkFail(job.handle)
    }
    worker.grabJob()
  }
  worker.on('JOB_ASSIGN', onJob)
  worker.on('NO_JOB', () => worker.preSleep())
  worker.on('NOOP', () => worker.grabJob())
  worker.setWorkerId('node-worker')
  for (const name of ['node:rev', 'node:fail', 'node:exc']) worker.addFunction(name)
  worker.grabJob()
}

async function main() {
  const [host, port] = [process.argv[2], Number(process.argv[3])]
  const worker = gearman(host, port)
  worker.on('error', (e) => fail(`worker: ${e}`))
  await connected(worker)
  serve(worker)

  const client = gearman(host, port)
  client.on('error', (e) => fail(`client: ${e}`))
  client.on('ERROR', (code, text) => fail(`client got ERROR ${code} ${text}`))
  const jobs = tracker(client)
  await connected(client)

  for (let i = 0; i < 20; i++) {
    const input = `job-${i}`
    const out = await jobs.call('node:rev', input)
    const want = input.split('').reverse().join('')
    if (out.end !== 'complete' || out.data.toString() !== want) {
      fail(`node:rev ${input}: ${JSON.stringify(out)}`)
    }
  }
  const failed = await jobs.call('node:fail', 'x')
  if (failed.end !== 'fail') fail(`node:fail ended as ${failed.end}`)
  // Without the exceptions option the server turns an exception into a fail.
  const plain = await jobs.call('node:exc', 'x')
  if (plain.end !== 'fail') fail(`node:exc without the option ended as ${plain.end}`)
  const option = next(client, 'OPTION_RES', () => true, 'exceptions')
  client.setOption('exceptions')
  await option
  const exc = await jobs.call('node:exc', 'x')
  if (exc.end !== 'exception' || exc.text !== 'node says no') {
    fail(`node:exc with the option: ${JSON.stringify(exc)}`)
  }
  for (let i = 0; i < 20; i++) {
    const out = await jobs.call('rs:upper', `rust ${i}`)
    if (out.end !== 'complete' || out.data.toString() !== `RUST ${i}`) {
      fail(`rs:upper ${i}: ${JSON.stringify(out)}`)
    }
  }
  const bg = await jobs.submit('node:rev', 'background', { background: true })
  if (!bg) fail('no handle for a background job')

  process.stdout.write('CLIENT OK\n')
  process.stdin.resume()
  process.stdin.on('end', () => {
    client.close()
    worker.close()
    process.stdout.write('BYE\n')
    process.exit(0)
  })
}

main().catch((e) => fail(e.stack || String(e)))
