/**
 * The browser's libp2p key, kept in IndexedDB (database `reelnet`, store
 * `keys`, key `peer`): made once, reused on every visit, so the directives
 * main signs for this browser name the same PeerId as long as the key lives.
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'

const DB = 'reelnet'
const STORE = 'keys'
const KEY = 'peer'

function open (): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1)
    req.onupgradeneeded = () => { req.result.createObjectStore(STORE) }
    req.onsuccess = () => { resolve(req.result) }
    req.onerror = () => { reject(req.error ?? new Error('IndexedDB would not open')) }
  })
}

function run<T> (db: IDBDatabase, mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = fn(db.transaction(STORE, mode).objectStore(STORE))
    req.onsuccess = () => { resolve(req.result) }
    req.onerror = () => { reject(req.error ?? new Error('IndexedDB request failed')) }
  })
}

export async function loadOrCreateKey (): Promise<PrivateKey> {
  const db = await open()
  try {
    const stored = await run<unknown>(db, 'readonly', s => s.get(KEY))
    if (stored instanceof Uint8Array || stored instanceof ArrayBuffer) {
      try { return privateKeyFromProtobuf(new Uint8Array(stored)) } catch { /* damaged: make a new one */ }
    }
    const key = await generateKeyPair('Ed25519')
    await run(db, 'readwrite', s => s.put(privateKeyToProtobuf(key), KEY))
    return key
  } finally {
    db.close()
  }
}
