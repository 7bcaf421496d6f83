// Black-box test of Pinfold's embedded IPFS node through the real Kubo RPC
// client (kubo-rpc-client, pinned in package.json / package-lock.json).
//
// Run (a daemon must already listen; tests/kubo_client.rs does all of this):
//
//   eval "$(scripts/install-test-deps.sh)"          # sets PINFOLD_NODE_MODULES
//   PINFOLD_IPFS_API=http://127.0.0.1:5001 node --test tests/js/kubo-client.test.mjs
//
// Environment:
//   PINFOLD_IPFS_API      (required) base URL of the RPC API, without /api/v0
//   PINFOLD_NODE_MODULES  node_modules holding kubo-rpc-client (default:
//                         tests/js/node_modules). ESM ignores NODE_PATH, so the
//                         package is located explicitly.
//   PINFOLD_IPFS_REPO     (optional) the daemon's --repo; checked against
//                         repo.stat().repoPath when set
//
// Expected values are Kubo's answers. Every CID this file expects is either a
// published Kubo fixture or computed here by a small, independent UnixFS /
// dag-pb / dag-cbor / CAR encoder, which is itself checked against the
// published fixtures first (see "local encoders reproduce Kubo's CIDs").
// Tests run in file order and each one adds what it needs, so a failure
// stays local to its test.

import assert from 'node:assert/strict'
import { createHash, randomUUID } from 'node:crypto'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const TEST_TIMEOUT = 120_000

// ---------------------------------------------------------------------------
// Locating the client and the daemon

async function loadKuboClient () {
  const modules = process.env.PINFOLD_NODE_MODULES ?? join(here, 'node_modules')
  const pkgDir = join(modules, 'kubo-rpc-client')
  const pkgJson = join(pkgDir, 'package.json')
  if (!existsSync(pkgJson)) {
    throw new Error(`kubo-rpc-client is not installed in ${modules}; run scripts/install-test-deps.sh ` +
      'and export the PINFOLD_NODE_MODULES it prints')
  }
  const pkg = JSON.parse(readFileSync(pkgJson, 'utf8'))
  assert.equal(pkg.version, '7.1.0', `expected kubo-rpc-client 7.1.0 in ${pkgDir}, found ${pkg.version}`)
  return import(pathToFileURL(join(pkgDir, pkg.exports['.'].import)).href)
}

const API = process.env.PINFOLD_IPFS_API
if (API == null || API === '') {
  throw new Error('PINFOLD_IPFS_API is not set: point it at the daemon RPC API, e.g. http://127.0.0.1:5001')
}

const { create, CID } = await loadKuboClient()
const ipfs = create({ url: API })

// Fail once, clearly, when nothing answers, instead of in every test.
try {
  await ipfs.version({ signal: AbortSignal.timeout(15_000) })
} catch (err) {
  const cause = err.cause?.code ?? err.cause?.message ?? err.code ?? err.message
  throw new Error(`cannot reach the IPFS RPC API at ${API} (POST ${API.replace(/\/$/, '')}/api/v0/version): ${cause}`)
}

// ---------------------------------------------------------------------------
// Independent encoders: protobuf varints, UnixFS, dag-pb, dag-cbor bits, CAR

const utf8 = (s) => new TextEncoder().encode(s)
const concat = (...parts) => Buffer.concat(parts.map((p) => Buffer.from(p)))
const sha256 = (bytes) => createHash('sha256').update(bytes).digest()
const hex = (bytes) => Buffer.from(bytes).toString('hex')

function varint (n) {
  const out = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

const pbVarint = (field, n) => concat(varint(field << 3), varint(n))
const pbBytes = (field, bytes) => concat(varint((field << 3) | 2), varint(bytes.length), bytes)

/** UnixFS Data message: Type=1, Data=2, filesize=3, blocksizes=4 (unpacked). */
function unixfs ({ type, data, filesize, blocksizes = [] }) {
  return concat(
    pbVarint(1, type),
    data != null ? pbBytes(2, data) : [],
    filesize != null ? pbVarint(3, filesize) : [],
    ...blocksizes.map((b) => pbVarint(4, b))
  )
}

/** dag-pb PBNode: Links (field 2, each Hash=1 Name=2 Tsize=3) then Data (field 1). */
function dagPb ({ links = [], data }) {
  return concat(
    ...links.map((l) => pbBytes(2, concat(pbBytes(1, l.cid.bytes), pbBytes(2, utf8(l.name)), pbVarint(3, l.tsize)))),
    data != null ? pbBytes(1, data) : []
  )
}

const SHA2_256 = [0x12, 0x20]
const RAW = 0x55
const DAG_PB = 0x70
const DAG_CBOR = 0x71
const cidV0 = (block) => CID.decode(concat(SHA2_256, sha256(block)))
const cidV1 = (codec, block) => CID.decode(concat(varint(1), varint(codec), SHA2_256, sha256(block)))

const UNIXFS_DIRECTORY = 1
const UNIXFS_FILE = 2
const CHUNK = 262144 // Kubo's default chunker, size-262144

/** A single-block UnixFS file, as `ipfs add` (CIDv0, no raw leaves) makes it. */
const fileNode = (content) => dagPb({ data: unixfs({ type: UNIXFS_FILE, data: content, filesize: content.length }) })

/**
 * Kubo's balanced layout for a file of at most 174 chunks: dag-pb leaves of
 * type File, one root listing them with empty names. Returns the root CID and
 * the cumulative DAG size `ipfs add` reports.
 */
function balancedFile (content) {
  if (content.length <= CHUNK) {
    const node = fileNode(content)
    return { cid: cidV0(node), size: node.length }
  }
  const chunks = []
  for (let i = 0; i < content.length; i += CHUNK) chunks.push(content.subarray(i, i + CHUNK))
  assert.ok(chunks.length <= 174, 'balancedFile only models one layer of links')
  const leaves = chunks.map(fileNode)
  const root = dagPb({
    links: leaves.map((leaf) => ({ cid: cidV0(leaf), name: '', tsize: leaf.length })),
    data: unixfs({ type: UNIXFS_FILE, filesize: content.length, blocksizes: chunks.map((c) => c.length) })
  })
  return { cid: cidV0(root), size: root.length + leaves.reduce((n, l) => n + l.length, 0) }
}

/** A basic UnixFS directory over `{name: {cid, size}}`, links sorted by name. */
function directory (entries) {
  const links = Object.keys(entries).sort().map((name) => ({ name, cid: entries[name].cid, tsize: entries[name].size }))
  const node = dagPb({ links, data: unixfs({ type: UNIXFS_DIRECTORY }) })
  return { cid: cidV0(node), size: node.length + links.reduce((n, l) => n + l.tsize, 0) }
}

// dag-cbor, just enough for the objects below.
function cborHead (major, n) {
  if (n < 24) return Uint8Array.of((major << 5) | n)
  if (n < 256) return Uint8Array.of((major << 5) | 24, n)
  if (n < 65536) return Uint8Array.of((major << 5) | 25, n >> 8, n & 0xff)
  throw new Error('value too long for this tiny encoder')
}
const cborText = (s) => concat(cborHead(3, utf8(s).length), utf8(s))
const cborBytes = (b) => concat(cborHead(2, b.length), b)
const cborLink = (cid) => concat([0xd8, 0x2a], cborBytes(concat([0x00], cid.bytes)))
/** A map with already-encoded values; keys sorted length-first, then bytewise. */
function cborMap (entries) {
  const keys = Object.keys(entries).sort((a, b) => (a.length - b.length) || (a < b ? -1 : a > b ? 1 : 0))
  return concat(cborHead(5, keys.length), ...keys.flatMap((k) => [cborText(k), entries[k]]))
}

/** A CARv1: header {roots, version: 1}, then varint | cid | data sections. */
function car (roots, blocks) {
  const header = cborMap({ roots: concat(cborHead(4, roots.length), ...roots.map(cborLink)), version: cborHead(0, 1) })
  return concat(
    varint(header.length), header,
    ...blocks.flatMap(([cid, data]) => [varint(cid.bytes.length + data.length), cid.bytes, data])
  )
}

/** Deterministic pseudo-random bytes (xorshift32), for a multi-chunk file. */
function pseudoRandom (length, seed) {
  const out = new Uint8Array(length)
  let x = seed >>> 0
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

// ---------------------------------------------------------------------------
// Helpers over the client

const all = async (iterable) => {
  const out = []
  for await (const x of iterable) out.push(x)
  return out
}
const bytesOf = async (iterable) => concat(...(await all(iterable)))
const str = (cid) => cid.toString()
const mhHex = (cid) => hex(cid.multihash.bytes)
const unique = (label) => utf8(`pinfold kubo-client test: ${label} ${randomUUID()}\n`)

/** block.stat that must fail because the block is gone (offline: never wait on the network). */
async function assertBlockGone (cid) {
  await assert.rejects(
    ipfs.block.stat(cid, { offline: true, signal: AbortSignal.timeout(30_000) }),
    (err) => {
      assert.equal(err.name, 'HTTPError', `expected an HTTP error for a missing block, got ${err.name}: ${err.message}`)
      return true
    }
  )
}

async function assertNotPinned (cid) {
  await assert.rejects(ipfs.pin.ls({ paths: [cid] }).next(), (err) => {
    assert.equal(err.name, 'HTTPError')
    assert.match(err.message, /is not pinned/)
    return true
  })
}

// Published fixtures.
const HELLO = 'hello world'
const HELLO_V0 = 'Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD'
const HELLO_V1 = 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'
const PLANETS = [
  { path: 'planets/mars.txt', content: utf8('Hello Mars!\n') },
  { path: 'planets/venus.txt', content: utf8('Hello Venus!\n') }
]
const PLANETS_ROOT = 'QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY'
const MARS = 'QmPrrHqJzto9m7SyiRzarwkqPcCSsKR2EB1AyqJfe8L8tN'

const mars = balancedFile(PLANETS[0].content)
const venus = balancedFile(PLANETS[1].content)
const planets = directory({ 'mars.txt': mars, 'venus.txt': venus })

const BIG = pseudoRandom(4 * CHUNK + 51_424, 0x9e3779b9) // 1,100,000 bytes: 4 full chunks + 1 partial
const big = balancedFile(BIG)

const addPlanets = () => all(ipfs.addAll(PLANETS.map(({ path, content }) => ({ path, content }))))

// ---------------------------------------------------------------------------

test('local encoders reproduce Kubo\'s CIDs', () => {
  assert.equal(str(balancedFile(utf8(HELLO)).cid), HELLO_V0)
  assert.equal(str(cidV1(RAW, utf8(HELLO))), HELLO_V1)
  assert.equal(str(mars.cid), MARS)
  assert.equal(str(planets.cid), PLANETS_ROOT)
})

test('version()', { timeout: TEST_TIMEOUT }, async () => {
  const v = await ipfs.version()
  assert.deepEqual(Object.keys(v).sort(), ['commit', 'golang', 'ipfs-http-client', 'repo', 'system', 'version'])
  assert.match(v.version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, `version ${v.version}`)
  assert.equal(typeof v.commit, 'string')
  assert.match(v.repo, /^\d+$/, `repo ${v.repo}`)
  // Kubo reports runtime.GOARCH + "/" + runtime.GOOS.
  const goarch = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', riscv64: 'riscv64', s390x: 's390x', ppc64: 'ppc64le', loong64: 'loong64' }[process.arch] ?? process.arch
  const goos = { win32: 'windows' }[process.platform] ?? process.platform
  assert.equal(v.system, `${goarch}/${goos}`)
  assert.equal(typeof v.golang, 'string')
  assert.equal(v['ipfs-http-client'], '1.0.0') // added by the client
})

test('id()', { timeout: TEST_TIMEOUT }, async () => {
  const id = await ipfs.id()
  for (const key of ['id', 'publicKey', 'addresses', 'agentVersion', 'protocols']) {
    assert.ok(key in id, `id() has no ${key}: ${JSON.stringify(Object.keys(id))}`)
  }
  // The client turned ID into a PeerId; an Ed25519 identity is 12D3KooW...
  assert.equal(id.id.type, 'Ed25519')
  assert.match(id.id.toString(), /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/)
  // PublicKey is the base64 libp2p protobuf of that same key: KeyType=Ed25519(1), Data=32 bytes.
  const pk = Buffer.from(id.publicKey, 'base64')
  assert.equal(hex(pk.subarray(0, 4)), '08011220')
  assert.equal(hex(pk.subarray(4)), hex(id.id.publicKey.raw))
  assert.ok(Array.isArray(id.addresses))
  for (const ma of id.addresses) assert.ok(ma.toString().endsWith(`/p2p/${id.id}`), `address ${ma}`)
  assert.equal(typeof id.agentVersion, 'string')
  assert.notEqual(id.agentVersion, '')
  assert.ok(Array.isArray(id.protocols))
  const again = await ipfs.id()
  assert.ok(again.id.equals(id.id), 'the peer ID is stable')
})

test('add() a string', { timeout: TEST_TIMEOUT }, async () => {
  const res = await ipfs.add(HELLO)
  assert.deepEqual(Object.keys(res).sort(), ['cid', 'path', 'size'])
  assert.equal(str(res.cid), HELLO_V0)
  assert.equal(res.path, HELLO_V0) // an unnamed file is named by its CID
  assert.equal(res.size, 19) // the one dag-pb node: 0a 11 08 02 12 0b "hello world" 18 0b
})

test('add() with cidVersion 1 uses raw leaves', { timeout: TEST_TIMEOUT }, async () => {
  const res = await ipfs.add(HELLO, { cidVersion: 1 })
  assert.equal(str(res.cid), HELLO_V1)
  assert.equal(res.cid.version, 1)
  assert.equal(res.cid.code, RAW)
  assert.equal(res.path, HELLO_V1)
  assert.equal(res.size, 11)
})

test('addAll() of a directory', { timeout: TEST_TIMEOUT }, async () => {
  const res = await addPlanets()
  assert.deepEqual(
    res.map((r) => ({ path: r.path, cid: str(r.cid), size: r.size })),
    [
      { path: 'planets/mars.txt', cid: MARS, size: mars.size },
      { path: 'planets/venus.txt', cid: str(venus.cid), size: venus.size },
      { path: 'planets', cid: PLANETS_ROOT, size: planets.size }
    ]
  )
  assert.deepEqual([mars.size, venus.size, planets.size], [20, 21, 146])
})

test('add() with progress, then cat() whole, with offset, with length', { timeout: TEST_TIMEOUT }, async () => {
  const progress = []
  const res = await ipfs.add(BIG, { progress: (bytes, name) => progress.push(bytes) })
  assert.equal(str(res.cid), str(big.cid), 'root CID of Kubo\'s balanced layout (256 KiB chunks, dag-pb leaves)')
  assert.equal(res.size, big.size)
  assert.ok(progress.length >= 2, `expected several progress events, got ${JSON.stringify(progress)}`)
  for (let i = 1; i < progress.length; i++) {
    assert.ok(progress[i] >= progress[i - 1], `progress went backwards: ${JSON.stringify(progress)}`)
  }
  assert.equal(progress.at(-1), BIG.length, `progress must end at the file size: ${JSON.stringify(progress)}`)

  const whole = await bytesOf(ipfs.cat(res.cid))
  assert.equal(whole.length, BIG.length)
  assert.ok(whole.equals(Buffer.from(BIG)), 'cat returns the added bytes')

  // Ranges across chunk boundaries (262144, 524288, 786432).
  const ranges = [
    { offset: 300_000, length: 500_000 },
    { offset: 1_000_000 }, // to the end
    { length: 262_145 }, // one byte into the second chunk
    { offset: BIG.length - 1, length: 10 }, // clamped at the end
    { offset: 0, length: 0 }
  ]
  for (const { offset, length } of ranges) {
    const got = await bytesOf(ipfs.cat(res.cid, { offset, length }))
    const start = offset ?? 0
    const end = length == null ? BIG.length : Math.min(BIG.length, start + length)
    assert.ok(got.equals(Buffer.from(BIG.subarray(start, end))), `cat offset=${offset} length=${length}: ${got.length} bytes`)
  }

  const hello = await bytesOf(ipfs.cat(HELLO_V0))
  assert.equal(hello.toString(), HELLO)
  const viaPath = await bytesOf(ipfs.cat(`/ipfs/${PLANETS_ROOT}/venus.txt`))
  assert.equal(viaPath.toString(), 'Hello Venus!\n')
})

test('pin.add / pin.ls / pin.rm', { timeout: TEST_TIMEOUT }, async () => {
  const content = unique('pin')
  const added = await ipfs.add(content, { pin: false })
  const cid = added.cid
  assert.equal(str(cid), str(balancedFile(content).cid))
  await assertNotPinned(cid)

  const name = `pinfold-${randomUUID()}`
  const pinned = await ipfs.pin.add(cid, { name })
  assert.equal(str(pinned), str(cid))

  const recursive = await all(ipfs.pin.ls({ type: 'recursive', names: true }))
  assert.ok(recursive.every((p) => p.type === 'recursive'), JSON.stringify(recursive.map((p) => p.type)))
  const mine = recursive.filter((p) => str(p.cid) === str(cid))
  assert.equal(mine.length, 1)
  assert.deepEqual({ ...mine[0], cid: str(mine[0].cid) }, { type: 'recursive', cid: str(cid), name })

  assert.deepEqual(
    (await all(ipfs.pin.ls({ paths: [cid] }))).map((p) => ({ ...p, cid: str(p.cid) })),
    [{ type: 'recursive', cid: str(cid) }]
  )
  const byName = await all(ipfs.pin.ls({ name }))
  assert.deepEqual(byName.map((p) => [str(p.cid), p.name]), [[str(cid), name]])
  const direct = await all(ipfs.pin.ls({ type: 'direct' }))
  assert.ok(!direct.some((p) => str(p.cid) === str(cid)), 'a recursive pin is not listed as direct')
  const everything = await all(ipfs.pin.ls())
  assert.deepEqual(everything.filter((p) => str(p.cid) === str(cid)).map((p) => p.type), ['recursive'])

  // Children of a recursive pin are indirect.
  await addPlanets()
  const indirect = await all(ipfs.pin.ls({ type: 'indirect' }))
  assert.ok(indirect.every((p) => p.type === 'indirect'))
  assert.ok(indirect.some((p) => str(p.cid) === MARS), 'mars.txt is pinned indirectly through the planets directory')
  assert.deepEqual(
    (await all(ipfs.pin.ls({ paths: [MARS] }))).map((p) => ({ ...p, cid: str(p.cid) })),
    [{ type: `indirect through ${PLANETS_ROOT}`, cid: MARS }]
  )

  // A direct pin.
  const leaf = await ipfs.block.put(unique('direct pin'))
  assert.equal(str(await ipfs.pin.add(leaf, { recursive: false })), str(leaf))
  const directNow = await all(ipfs.pin.ls({ type: 'direct' }))
  assert.deepEqual(directNow.filter((p) => str(p.cid) === str(leaf)).map((p) => p.type), ['direct'])
  assert.equal(str(await ipfs.pin.rm(leaf, { recursive: false })), str(leaf))

  // Unpin.
  assert.equal(str(await ipfs.pin.rm(cid)), str(cid))
  const after = await all(ipfs.pin.ls({ type: 'recursive' }))
  assert.ok(!after.some((p) => str(p.cid) === str(cid)), 'pin.ls no longer lists the removed pin')
  await assertNotPinned(cid)
})

test('pin.update', { timeout: TEST_TIMEOUT }, async () => {
  const from = (await ipfs.add(unique('pin.update from'))).cid
  const to = (await ipfs.add(unique('pin.update to'), { pin: false })).cid
  const res = await ipfs.pin.update(from, to)
  assert.deepEqual(res.map(str), [str(from), str(to)])
  assert.deepEqual((await all(ipfs.pin.ls({ paths: [to] }))).map((p) => p.type), ['recursive'])
  await assertNotPinned(from) // --unpin defaults to true
  await ipfs.pin.rm(to)
})

test('block.put / block.get / block.stat / block.rm', { timeout: TEST_TIMEOUT }, async () => {
  // raw (the default codec)
  const data = unique('raw block')
  const raw = await ipfs.block.put(data)
  assert.equal(str(raw), str(cidV1(RAW, data)))
  assert.ok(Buffer.from(await ipfs.block.get(raw)).equals(Buffer.from(data)))
  const stat = await ipfs.block.stat(raw)
  assert.deepEqual({ cid: str(stat.cid), size: stat.size }, { cid: str(raw), size: data.length })

  // dag-pb (legacy --format, as the client sends it): CIDv1 dag-pb
  const node = fileNode(unique('dag-pb block'))
  const pb = await ipfs.block.put(node, { format: 'dag-pb' })
  assert.equal(str(pb), str(cidV1(DAG_PB, node)))
  assert.ok(Buffer.from(await ipfs.block.get(pb)).equals(node))
  assert.equal((await ipfs.block.stat(pb)).size, node.length)
  // and through the current option name
  const pb2 = await ipfs.block.put(node, { cidCodec: 'dag-pb' })
  assert.equal(str(pb2), str(pb))

  const removed = await all(ipfs.block.rm([raw, pb]))
  assert.deepEqual(removed.map((r) => ({ ...r, cid: str(r.cid) })), [{ cid: str(raw) }, { cid: str(pb) }])
  await assertBlockGone(raw)
  await assertBlockGone(pb)
})

test('repo.stat', { timeout: TEST_TIMEOUT }, async () => {
  const before = await ipfs.repo.stat()
  assert.deepEqual(Object.keys(before).sort(), ['numObjects', 'repoPath', 'repoSize', 'storageMax', 'version'])
  assert.equal(typeof before.numObjects, 'bigint')
  assert.ok(before.repoSize > 0n, `repoSize ${before.repoSize}`)
  assert.equal(before.storageMax, 10_000_000_000n) // Datastore.StorageMax default "10GB"
  assert.match(before.version, /^fs-repo@\d+$/)
  if (process.env.PINFOLD_IPFS_REPO != null) {
    assert.equal(realpathSync(before.repoPath), realpathSync(process.env.PINFOLD_IPFS_REPO))
  }
  assert.ok(before.numObjects >= 5n, 'the blocks added by earlier tests are counted')

  const data = unique('repo.stat')
  const cid = await ipfs.block.put(data)
  const after = await ipfs.repo.stat()
  assert.equal(after.numObjects, before.numObjects + 1n)
  await all(ipfs.block.rm(cid))
  assert.equal((await ipfs.repo.stat()).numObjects, before.numObjects)
})

test('repo.gc removes unpinned blocks and keeps pinned ones', { timeout: TEST_TIMEOUT }, async () => {
  const loose = await ipfs.block.put(unique('gc: unpinned'))
  const kept = await ipfs.block.put(unique('gc: pinned'), { pin: true })
  await addPlanets()

  const results = await all(ipfs.repo.gc())
  const errors = results.filter((r) => r.err != null)
  assert.deepEqual(errors.map((r) => r.err.message), [])
  const removed = new Set(results.filter((r) => r.cid != null).map((r) => mhHex(r.cid)))
  assert.ok(removed.has(mhHex(loose)), 'gc reports the unpinned block')
  assert.ok(!removed.has(mhHex(kept)), 'gc does not report the pinned block')

  await assertBlockGone(loose)
  assert.equal((await ipfs.block.stat(kept)).size > 0, true)
  assert.equal(str((await ipfs.block.stat(PLANETS_ROOT)).cid), PLANETS_ROOT)
  assert.equal(str((await ipfs.block.stat(MARS)).cid), MARS)
  await ipfs.pin.rm(kept)
})

test('resolve', { timeout: TEST_TIMEOUT }, async () => {
  await addPlanets()
  assert.equal(await ipfs.resolve(`/ipfs/${PLANETS_ROOT}/mars.txt`), `/ipfs/${MARS}`)
  assert.equal(await ipfs.resolve(`/ipfs/${PLANETS_ROOT}`), `/ipfs/${PLANETS_ROOT}`)
})

test('refs.local lists every local block', { timeout: TEST_TIMEOUT }, async () => {
  await ipfs.add(HELLO)
  await ipfs.add(HELLO, { cidVersion: 1 })
  await addPlanets()
  const refs = await all(ipfs.refs.local())
  for (const r of refs) {
    assert.deepEqual(Object.keys(r).sort(), ['err', 'ref'])
    assert.equal(r.err, '')
    // Kubo: "This treats all local objects as raw blocks and returns CIDv1-Raw CIDs."
    const cid = CID.parse(r.ref)
    assert.equal(cid.version, 1, r.ref)
    assert.equal(cid.code, RAW, r.ref)
  }
  const local = new Set(refs.map((r) => mhHex(CID.parse(r.ref))))
  // HELLO_V1 is the raw block "hello world"; HELLO_V0 is its dag-pb wrapper.
  for (const cid of [HELLO_V0, HELLO_V1, PLANETS_ROOT, MARS, str(venus.cid)]) {
    assert.ok(local.has(mhHex(CID.parse(cid))), `refs.local is missing ${cid}`)
  }
})

test('dag.put / dag.get of dag-cbor', { timeout: TEST_TIMEOUT }, async () => {
  const link = CID.parse(HELLO_V1)
  const cid = await ipfs.dag.put({ hello: 'world', link })
  const expectedBytes = cborMap({ hello: cborText('world'), link: cborLink(link) })
  assert.equal(hex(expectedBytes.subarray(0, 7)), 'a2646c696e6bd8') // "link" sorts before "hello"
  assert.equal(str(cid), str(cidV1(DAG_CBOR, expectedBytes)))
  assert.ok(Buffer.from(await ipfs.block.get(cid)).equals(expectedBytes))

  const got = await ipfs.dag.get(cid)
  assert.equal(got.remainderPath, '')
  assert.deepEqual(Object.keys(got.value).sort(), ['hello', 'link'])
  assert.equal(got.value.hello, 'world')
  assert.equal(str(CID.asCID(got.value.link)), HELLO_V1)

  const field = await ipfs.dag.get(cid, { path: 'hello' })
  assert.equal(field.value, 'world')
  assert.equal(field.remainderPath, '')
})

test('dag.export then dag.import', { timeout: TEST_TIMEOUT }, async () => {
  const child = await ipfs.dag.put({ nonce: randomUUID() })
  const parent = await ipfs.dag.put({ child, nonce: randomUUID() })
  const childBytes = await ipfs.block.get(child)
  const parentBytes = await ipfs.block.get(parent)

  const exported = await bytesOf(ipfs.dag.export(parent))
  // A CARv1 with the root in its header and the blocks in depth-first order.
  assert.equal(hex(exported), hex(car([parent], [[parent, parentBytes], [child, childBytes]])))

  // The planets directory, exported the same way.
  await addPlanets()
  const planetsCar = await bytesOf(ipfs.dag.export(CID.parse(PLANETS_ROOT)))
  const blocks = await Promise.all([PLANETS_ROOT, MARS, str(venus.cid)].map(async (c) => [CID.parse(c), await ipfs.block.get(CID.parse(c))]))
  assert.equal(hex(planetsCar), hex(car([CID.parse(PLANETS_ROOT)], blocks)))

  // Remove the blocks, import the CAR, and everything is back and pinned.
  const removed = await all(ipfs.block.rm([parent, child]))
  assert.deepEqual(removed.map((r) => ({ ...r, cid: str(r.cid) })), [{ cid: str(parent) }, { cid: str(child) }])
  await assertBlockGone(parent)

  const imported = await all(ipfs.dag.import([exported]))
  assert.deepEqual(
    imported.map(({ root }) => ({ cid: str(root.cid), pinErrorMsg: root.pinErrorMsg })),
    [{ cid: str(parent), pinErrorMsg: '' }]
  )
  assert.ok(Buffer.from(await ipfs.block.get(parent)).equals(Buffer.from(parentBytes)))
  assert.ok(Buffer.from(await ipfs.block.get(child)).equals(Buffer.from(childBytes)))
  assert.deepEqual((await all(ipfs.pin.ls({ paths: [parent] }))).map((p) => p.type), ['recursive'])
  await ipfs.pin.rm(parent)
})

test('errors carry Kubo\'s message', { timeout: TEST_TIMEOUT }, async () => {
  await assert.rejects(bytesOf(ipfs.cat('not-a-cid')), (err) => {
    assert.equal(err.name, 'HTTPError')
    assert.equal(err.response?.status, 500)
    assert.equal(err.message, 'invalid path "not-a-cid": path does not have enough components')
    return true
  })
})
