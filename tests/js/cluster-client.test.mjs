// Black-box test of Pinfold's IPFS Cluster REST API through the real JS client
// @nftstorage/ipfs-cluster 5.0.1 (pinned in package.json / package-lock.json).
//
// Run (a daemon must already serve; tests/cluster_js_client.rs does all of this):
//
//   eval "$(scripts/install-test-deps.sh)"          # sets PINFOLD_NODE_MODULES
//   PINFOLD_CLUSTER_API=http://127.0.0.1:9094 PINFOLD_CLUSTER_PEER_ID=12D3KooW... \
//   PINFOLD_IPFS_API=http://127.0.0.1:5001 node --test tests/js/cluster-client.test.mjs
//
// Environment:
//   PINFOLD_CLUSTER_API      (required) the REST API root URL
//   PINFOLD_CLUSTER_PEER_ID  (required) the peer's ID (identity.json)
//   PINFOLD_IPFS_API         (required) the embedded node's Kubo RPC API, without /api/v0;
//                            used to put blocks and to unpin behind the cluster's back
//   PINFOLD_NODE_MODULES     node_modules holding @nftstorage/ipfs-cluster (default:
//                            tests/js/node_modules). ESM ignores NODE_PATH.
//
// What the client sends (read from its src/index.js): `add` posts multipart with
// `stream-channels=false&raw-leaves=true&cid-version=1` unless told otherwise and reads
// `result[0]` (or the whole body with streamChannels:true); `addDirectory` adds
// `wrap-with-directory=true`; `pin`/`unpin` use `/pins/<cid>` or `/pins<path>`; `status`,
// `allocation`, `recover` use `/pins/<cid>`, `/allocations/<cid>`, `/pins/<cid>/recover`;
// `statusAll` and `peerList` parse NDJSON; `info()` is `GET /id` and throws if `error` or
// `ipfs.error` is non-empty. The client has no `id()` (that is `info()`) and no `pins()`
// (that is `statusAll()`).

import assert from 'node:assert/strict'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const TEST_TIMEOUT = 120_000
const PIN_TIMEOUT = 60_000

const HELLO_V0 = 'Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD'
const HELLO_V1 = 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'
// `ipfs add -r --cid-version=1 planets/` (mars.txt, venus.txt): a wrapping directory of the
// same two files has the same CID.
const PLANETS_V1 = 'bafybeih7e5dmkyk25up5vxug4q3hrg2fxbzf23dfrac2fns5h7z4aa7ioi'
const MARS_V1 = 'bafkreibmlvvgdyihetgocpof6xk64kjjzdeq2e4c7hqs3krdheosk4tgj4'

// ---------------------------------------------------------------------------
// Locating the client and the daemon

async function loadClusterClient () {
  const modules = process.env.PINFOLD_NODE_MODULES ?? join(here, 'node_modules')
  const pkgDir = join(modules, '@nftstorage', 'ipfs-cluster')
  const pkgJson = join(pkgDir, 'package.json')
  if (!existsSync(pkgJson)) {
    throw new Error(`@nftstorage/ipfs-cluster is not installed in ${modules}; run ` +
      'scripts/install-test-deps.sh and export the PINFOLD_NODE_MODULES it prints')
  }
  const pkg = JSON.parse(readFileSync(pkgJson, 'utf8'))
  assert.equal(pkg.version, '5.0.1', `expected @nftstorage/ipfs-cluster 5.0.1 in ${pkgDir}, found ${pkg.version}`)
  return import(pathToFileURL(join(pkgDir, pkg.exports['.'].import)).href)
}

function required (name, example) {
  const v = process.env[name]
  if (v == null || v === '') throw new Error(`${name} is not set (e.g. ${example})`)
  return v.replace(/\/$/, '')
}

const API = required('PINFOLD_CLUSTER_API', 'http://127.0.0.1:9094')
const PEER_ID = required('PINFOLD_CLUSTER_PEER_ID', '12D3KooW...')
const IPFS = required('PINFOLD_IPFS_API', 'http://127.0.0.1:5001')

const { Cluster, TrackerStatusPinned, TrackerStatusUnpinned } = await loadClusterClient()
const cluster = new Cluster(API)

// Fail once, clearly, when nothing answers, instead of in every test.
try {
  await cluster.version({ signal: AbortSignal.timeout(15_000) })
} catch (err) {
  const cause = err.cause?.code ?? err.cause?.message ?? err.code ?? err.message
  throw new Error(`cannot reach the cluster REST API at ${API} (GET ${API}/version): ${cause}`)
}

// ---------------------------------------------------------------------------
// Helpers

/** POST to the embedded node's Kubo RPC API; returns the parsed JSON answer. */
async function ipfsRpc (cmd, body) {
  const res = await fetch(`${IPFS}/api/v0/${cmd}`, { method: 'POST', body })
  const text = await res.text()
  if (!res.ok) throw new Error(`ipfs ${cmd}: ${res.status} ${text}`)
  return JSON.parse(text)
}

/** Stores `bytes` as a raw block in the embedded node; returns its CID. */
async function blockPut (bytes) {
  const form = new FormData()
  form.append('file', new Blob([bytes]))
  const out = await ipfsRpc('block/put?cid-codec=raw&mhtype=sha2-256', form)
  assert.equal(typeof out.Key, 'string', JSON.stringify(out))
  return out.Key
}

/** A block of unique content in the node. */
const uniqueBlock = (tag) => blockPut(new TextEncoder().encode(`pinfold js ${tag} ${randomUUID()}`))

/** How the node pins `cid`, or null. */
async function nodePinType (cid) {
  const res = await fetch(`${IPFS}/api/v0/pin/ls?arg=${cid}&type=all`, { method: 'POST' })
  const text = await res.text()
  if (!res.ok) {
    assert.match(text, /not pinned/, `pin/ls ${cid}: ${res.status} ${text}`)
    return null
  }
  const keys = JSON.parse(text).Keys ?? {}
  return Object.values(keys)[0]?.Type ?? null
}

function base32 (bytes) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  let bits = 0
  let value = 0
  let out = ''
  for (const b of bytes) {
    value = (value << 8) | b
    bits += 8
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31]
  return out
}

/** A CIDv1 (raw, sha2-256) of random bytes: a CID the cluster has never seen. */
function randomCid () {
  const digest = createHash('sha256').update(randomBytes(32)).digest()
  return 'b' + base32(Buffer.concat([Buffer.from([0x01, 0x55, 0x12, 0x20]), digest]))
}

/** Polls `status(cid)` until this peer's status is `want`; returns that answer. */
async function waitStatus (cid, want, timeout = PIN_TIMEOUT) {
  const deadline = Date.now() + timeout
  let last
  while (Date.now() < deadline) {
    last = await cluster.status(cid)
    if (last.peerMap?.[PEER_ID]?.status === want) return last
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`${cid} did not reach ${want} within ${timeout} ms; last: ${JSON.stringify(last)}`)
}

function assertValidDate (d, what) {
  assert.ok(d instanceof Date && !Number.isNaN(d.getTime()), `${what} is a valid date: ${d}`)
}

/** Checks a PinResponse's shape. */
function assertPinResponse (pin, cid) {
  assert.equal(pin.cid, cid)
  assert.equal(pin.type, 'pin')
  assert.ok(['recursive', 'direct'].includes(pin.mode), `mode ${pin.mode}`)
  assert.equal(typeof pin.replicationFactorMin, 'number')
  assert.equal(typeof pin.replicationFactorMax, 'number')
  assert.equal(typeof pin.name, 'string')
  assert.equal(typeof pin.shardSize, 'number')
  assert.equal(typeof pin.maxDepth, 'number')
  assertValidDate(pin.expireAt, 'expireAt')
  assert.ok(pin.allocations === null || Array.isArray(pin.allocations), `allocations ${pin.allocations}`)
  assert.ok(pin.reference === null || pin.reference === undefined, `reference ${pin.reference}`)
}

// ---------------------------------------------------------------------------
// Tests (in file order; each adds what it needs)

let clusterVersion

test('version() answers the cluster version', { timeout: TEST_TIMEOUT }, async () => {
  clusterVersion = await cluster.version()
  assert.equal(typeof clusterVersion, 'string')
  assert.ok(clusterVersion.length > 0)
})

test('info() describes this peer and its IPFS node', { timeout: TEST_TIMEOUT }, async () => {
  const info = await cluster.info()
  assert.equal(info.id, PEER_ID)
  assert.equal(info.version, clusterVersion)
  assert.ok(Array.isArray(info.addresses), `addresses ${info.addresses}`)
  assert.ok(Array.isArray(info.clusterPeers) && info.clusterPeers.includes(PEER_ID),
    `clusterPeers ${JSON.stringify(info.clusterPeers)}`)
  assert.ok(Array.isArray(info.clusterPeersAddresses))
  assert.equal(typeof info.peerName, 'string')
  assert.equal(typeof info.rpcProtocolVersion, 'string')
  assert.equal(info.error, '')
  assert.equal(typeof info.ipfs?.id, 'string')
  assert.ok(info.ipfs.id.length > 0, 'the embedded node has an ID')
  assert.ok(Array.isArray(info.ipfs.addresses))
})

test('peerList() lists the single peer', { timeout: TEST_TIMEOUT }, async () => {
  const peers = await cluster.peerList()
  assert.equal(peers.length, 1, JSON.stringify(peers))
  assert.equal(peers[0].id, PEER_ID)
  assert.equal(peers[0].version, clusterVersion)
})

test('metricNames() lists metric names', { timeout: TEST_TIMEOUT }, async () => {
  const deadline = Date.now() + 60_000
  let names
  do {
    names = await cluster.metricNames()
    assert.ok(Array.isArray(names), JSON.stringify(names))
    assert.ok(names.every((n) => typeof n === 'string'), JSON.stringify(names))
    if (names.includes('freespace')) break
    await new Promise((resolve) => setTimeout(resolve, 250))
  } while (Date.now() < deadline)
  assert.ok(names.includes('freespace'), `freespace among ${JSON.stringify(names)}`)
})

test('add() a file: CIDv1 with raw leaves by default, pinned', { timeout: TEST_TIMEOUT }, async () => {
  const added = await cluster.add(new File(['hello world'], 'hello.txt'))
  assert.equal(added.cid, HELLO_V1, JSON.stringify(added))
  assert.equal(added.name, 'hello.txt')
  if (added.size !== undefined) assert.equal(typeof added.size, 'number')
  const status = await waitStatus(HELLO_V1, TrackerStatusPinned)
  assert.equal(status.cid, HELLO_V1)
  assert.equal(await nodePinType(HELLO_V1), 'recursive')

  // the other defaults, streamed: the client reads the one NDJSON object as JSON
  const streamed = await cluster.add(new File(['hello world'], 'hello.txt'), {
    streamChannels: true, cidVersion: 0, rawLeaves: false, name: 'streamed', metadata: { via: 'js' }
  })
  assert.equal(streamed.cid, HELLO_V0, JSON.stringify(streamed))
  await waitStatus(HELLO_V0, TrackerStatusPinned)
  const alloc = await cluster.allocation(HELLO_V0)
  assert.equal(alloc.name, 'streamed')
  assert.deepEqual(alloc.metadata, { via: 'js' })
})

test('addDirectory() wraps the files in a directory, pinned', { timeout: TEST_TIMEOUT }, async () => {
  const results = await cluster.addDirectory([
    new File(['Hello Mars!\n'], 'mars.txt'),
    new File(['Hello Venus!\n'], 'venus.txt')
  ])
  assert.ok(Array.isArray(results), JSON.stringify(results))
  const cids = results.map((r) => r.cid)
  assert.ok(cids.includes(PLANETS_V1), `wrapping directory ${PLANETS_V1} in ${JSON.stringify(results)}`)
  const mars = results.find((r) => r.name === 'mars.txt')
  assert.equal(mars?.cid, MARS_V1, JSON.stringify(results))
  assert.ok(results.some((r) => r.name === 'venus.txt'), JSON.stringify(results))
  await waitStatus(PLANETS_V1, TrackerStatusPinned)
  assert.equal(await nodePinType(PLANETS_V1), 'recursive')
})

test('pin() with options; status(), allocation(), statusAll()', { timeout: TEST_TIMEOUT }, async () => {
  const cid = await uniqueBlock('pin-options')
  const pin = await cluster.pin(cid, {
    name: 'js-pin',
    replicationFactorMin: 1,
    replicationFactorMax: 1,
    metadata: { app: 'pinfold', kind: 'test' }
  })
  assertPinResponse(pin, cid)
  assert.equal(pin.name, 'js-pin')
  assert.equal(pin.mode, 'recursive')
  assert.equal(pin.maxDepth, -1)
  assert.equal(pin.replicationFactorMin, 1)
  assert.equal(pin.replicationFactorMax, 1)
  assert.deepEqual(pin.metadata, { app: 'pinfold', kind: 'test' })
  assert.deepEqual(pin.allocations, [PEER_ID])
  assert.equal(pin.expireAt.toISOString(), '0001-01-01T00:00:00.000Z')

  const status = await waitStatus(cid, TrackerStatusPinned)
  assert.equal(status.cid, cid)
  assert.equal(status.name, 'js-pin')
  const mine = status.peerMap[PEER_ID]
  assert.equal(typeof mine.peerName, 'string')
  assert.equal(mine.error, '')
  assertValidDate(mine.timestamp, 'status timestamp')
  assert.equal(await nodePinType(cid), 'recursive')

  const local = await cluster.status(cid, { local: true })
  assert.deepEqual(Object.keys(local.peerMap), [PEER_ID])

  const alloc = await cluster.allocation(cid)
  assertPinResponse(alloc, cid)
  assert.equal(alloc.name, 'js-pin')
  assert.deepEqual(alloc.metadata, { app: 'pinfold', kind: 'test' })
  assert.equal(alloc.replicationFactorMin, 1)
  assert.deepEqual(alloc.allocations, [PEER_ID])

  const filtered = await cluster.statusAll({ cids: [cid], filter: 'pinned' })
  assert.deepEqual(filtered.map((s) => s.cid), [cid])
  assert.equal(filtered[0].peerMap[PEER_ID].status, TrackerStatusPinned)
  const all = await cluster.statusAll()
  assert.ok(all.some((s) => s.cid === cid), 'statusAll() lists the pin')
  assert.ok(all.some((s) => s.cid === HELLO_V1), 'statusAll() lists the added file')
  // nothing matches: the server answers 204 with no body, as IPFS Cluster does, and this
  // client (like against Go) cannot read a 204 as an empty list
  await assert.rejects(cluster.statusAll({ filter: 'pin_error' }), /Missing response body/)

  // a path pin, direct
  const cid2 = await uniqueBlock('pin-path')
  const direct = await cluster.pin(`/ipfs/${cid2}`, { mode: 'direct', name: 'by-path' })
  assertPinResponse(direct, cid2)
  assert.equal(direct.mode, 'direct')
  assert.equal(direct.maxDepth, 0)
  await waitStatus(cid2, TrackerStatusPinned)
  assert.equal(await nodePinType(cid2), 'direct')

  // an expiry in the future round-trips (second precision)
  const cid3 = await uniqueBlock('pin-expire')
  const expireAt = new Date(Date.now() + 3600_000)
  const expiring = await cluster.pin(cid3, { expireAt })
  assert.ok(Math.abs(expiring.expireAt.getTime() - expireAt.getTime()) < 2000,
    `expireAt ${expiring.expireAt.toISOString()} vs ${expireAt.toISOString()}`)
})

test('recover() re-pins what the IPFS node lost', { timeout: TEST_TIMEOUT }, async () => {
  const cid = await uniqueBlock('recover')
  await cluster.pin(cid)
  await waitStatus(cid, TrackerStatusPinned)
  await ipfsRpc(`pin/rm?arg=${cid}`)
  assert.equal(await nodePinType(cid), null)
  await waitStatus(cid, 'unexpectedly_unpinned')
  const recovered = await cluster.recover(cid)
  assert.equal(recovered.cid, cid)
  assert.ok(recovered.peerMap?.[PEER_ID], JSON.stringify(recovered))
  await waitStatus(cid, TrackerStatusPinned)
  assert.equal(await nodePinType(cid), 'recursive')
})

test('unpin() removes the pin', { timeout: TEST_TIMEOUT }, async () => {
  const cid = await uniqueBlock('unpin')
  await cluster.pin(cid, { name: 'to-remove' })
  await waitStatus(cid, TrackerStatusPinned)
  const removed = await cluster.unpin(cid)
  assertPinResponse(removed, cid)
  assert.equal(removed.name, 'to-remove')
  await waitStatus(cid, TrackerStatusUnpinned)
  assert.equal(await nodePinType(cid), null)
  await assert.rejects(cluster.allocation(cid), (err) => {
    assert.equal(err.response?.status, 404, String(err))
    return true
  })
  const repinned = await cluster.pin(`/ipfs/${cid}`)
  assert.equal(repinned.cid, cid)
  const removedByPath = await cluster.unpin(`/ipfs/${cid}`)
  assert.equal(removedByPath.cid, cid)
})

test('errors carry the HTTP status', { timeout: TEST_TIMEOUT }, async () => {
  await assert.rejects(cluster.status('notacid'), (err) => {
    assert.equal(err.response?.status, 400, String(err))
    return true
  })
  await assert.rejects(cluster.unpin(randomCid()), (err) => {
    assert.equal(err.response?.status, 404, String(err))
    return true
  })
  const unknown = randomCid()
  const status = await cluster.status(unknown)
  assert.equal(status.cid, unknown)
  assert.equal(status.peerMap[PEER_ID].status, TrackerStatusUnpinned)
})
