// The IndexedDB backend: the durable copy of a `MirrorStorage`. A database has three object
// stores: `batches` (key [topic, partition, baseOffset] -> the RecordBatch bytes; one value per
// batch, never one per message), `segments` (key [topic, partition, baseOffset] -> 1) and `meta`
// ("manifest" -> bytes). Each flush applies the mirror's journal in ONE readwrite transaction
// with the durability hint of the log; its `complete` event is the durability point, so a
// flush is all or nothing. `indexedDB` is looked up lazily, so this module loads in Node too.

use js_sys::{Array, JsString, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbFactory, IdbObjectStore, IdbOpenDbRequest, IdbRequest, IdbTransaction,
};

use super::interop::js_error;
use crate::error::ErrorKind;
use crate::mirror::{BatchKey, Change, LoadReport, MirrorStorage};

const VERSION: u32 = 1;
const BATCHES: &str = "batches";
const SEGMENTS: &str = "segments";
const META: &str = "meta";
const MANIFEST_KEY: &str = "manifest";

/// Turns an IndexedDB failure into a BrookError: a full quota is QUOTA_EXCEEDED.
fn idb_error(what: &str, error: JsValue) -> JsValue {
    let name = Reflect::get(&error, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    let message = Reflect::get(&error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_default();
    if name == "QuotaExceededError" {
        return js_error(
            ErrorKind::QuotaExceeded,
            format!("{what}: the browser refused to store more ({message}); free room with retention or delete data"),
        );
    }
    js_error(
        ErrorKind::Io,
        format!("{what}: IndexedDB {name}: {message}"),
    )
}

/// A promise for a request's result (the request's `error` on failure).
fn request_promise(request: &IdbRequest) -> Promise {
    let request = request.clone();
    Promise::new(&mut |resolve, reject| {
        let done = request.clone();
        let on_success = Closure::once_into_js(move || {
            let _ = resolve.call1(
                &JsValue::UNDEFINED,
                &done.result().unwrap_or(JsValue::UNDEFINED),
            );
        });
        let failed = request.clone();
        let on_error = Closure::once_into_js(move || {
            let error = failed
                .error()
                .ok()
                .flatten()
                .map(JsValue::from)
                .unwrap_or(JsValue::NULL);
            let _ = reject.call1(&JsValue::UNDEFINED, &error);
        });
        request.set_onsuccess(Some(on_success.unchecked_ref()));
        request.set_onerror(Some(on_error.unchecked_ref()));
    })
}

/// A promise for a transaction's `complete` (its `error` on error or abort).
fn transaction_promise(transaction: &IdbTransaction) -> Promise {
    let transaction = transaction.clone();
    Promise::new(&mut |resolve, reject| {
        let on_complete = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        });
        let failed = transaction.clone();
        let reject_abort = reject.clone();
        let on_error = Closure::once_into_js(move || {
            let error = failed.error().map(JsValue::from).unwrap_or(JsValue::NULL);
            let _ = reject.call1(&JsValue::UNDEFINED, &error);
        });
        let aborted = transaction.clone();
        let on_abort = Closure::once_into_js(move || {
            let error = aborted.error().map(JsValue::from).unwrap_or(JsValue::NULL);
            let _ = reject_abort.call1(&JsValue::UNDEFINED, &error);
        });
        transaction.set_oncomplete(Some(on_complete.unchecked_ref()));
        transaction.set_onerror(Some(on_error.unchecked_ref()));
        transaction.set_onabort(Some(on_abort.unchecked_ref()));
    })
}

fn factory() -> Result<IdbFactory, JsValue> {
    let factory =
        Reflect::get(&js_sys::global(), &"indexedDB".into()).unwrap_or(JsValue::UNDEFINED);
    if factory.is_undefined() || factory.is_null() {
        return Err(js_error(
            ErrorKind::Unsupported,
            "IndexedDB is not available here; open the log with { path } in Node, or without options in memory",
        ));
    }
    Ok(factory.unchecked_into())
}

pub async fn open_database(name: &str) -> Result<IdbDatabase, JsValue> {
    let request: IdbOpenDbRequest = factory()?
        .open_with_u32(name, VERSION)
        .map_err(|e| idb_error("open", e))?;
    let upgrading = request.clone();
    let on_upgrade = Closure::once_into_js(move || {
        if let Ok(result) = upgrading.result() {
            let db: IdbDatabase = result.unchecked_into();
            for store in [BATCHES, SEGMENTS, META] {
                if !db.object_store_names().contains(store) {
                    let _ = db.create_object_store(store);
                }
            }
        }
    });
    request.set_onupgradeneeded(Some(on_upgrade.unchecked_ref()));
    let result = JsFuture::from(request_promise(&request))
        .await
        .map_err(|e| idb_error("open", e))?;
    Ok(result.unchecked_into())
}

fn key(key: &BatchKey) -> JsValue {
    Array::of3(
        &JsValue::from_str(&key.topic),
        &JsValue::from_f64(key.partition as f64),
        &JsValue::from_f64(key.base_offset as f64),
    )
    .into()
}

/// A stored key back to a BatchKey; None for anything brook did not write.
fn parse_key(value: &JsValue) -> Option<BatchKey> {
    let array: &Array = value.dyn_ref()?;
    let topic = array.get(0).as_string()?;
    let partition = array.get(1).as_f64()?;
    let base_offset = array.get(2).as_f64()?;
    if partition.fract() != 0.0
        || partition < 0.0
        || base_offset.fract() != 0.0
        || base_offset < 0.0
    {
        return None;
    }
    Some(BatchKey {
        topic,
        partition: partition as u32,
        base_offset: base_offset as i64,
    })
}

async fn get(request: Result<IdbRequest, JsValue>) -> Result<JsValue, JsValue> {
    let request = request.map_err(|e| idb_error("read", e))?;
    JsFuture::from(request_promise(&request))
        .await
        .map_err(|e| idb_error("read", e))
}

/// `db.transaction([batches, segments, meta], mode, { durability })`, called through JS:
/// web-sys has the durability option only behind its unstable-API flag.
fn transaction(db: &IdbDatabase, mode: &str, durability: &str) -> Result<IdbTransaction, JsValue> {
    let names = Array::of3(
        &JsString::from(BATCHES),
        &JsString::from(SEGMENTS),
        &JsString::from(META),
    );
    let options = js_sys::Object::new();
    Reflect::set(&options, &"durability".into(), &durability.into())?;
    let method: js_sys::Function = Reflect::get(db, &"transaction".into())?.dyn_into()?;
    method
        .call3(db, &names, &mode.into(), &options)
        .map(JsCast::unchecked_into)
        .map_err(|e| idb_error("transaction", e))
}

/// Reads everything back and rebuilds the mirror (every batch checked).
pub async fn load(db: &IdbDatabase) -> Result<(MirrorStorage, LoadReport), JsValue> {
    let transaction = transaction(db, "readonly", "default")?;
    let store = |name: &str| -> Result<IdbObjectStore, JsValue> {
        transaction
            .object_store(name)
            .map_err(|e| idb_error("read", e))
    };
    let batches = store(BATCHES)?;
    // Issued together in one transaction, so keys and values are of the same snapshot.
    let keys = batches.get_all_keys();
    let values = batches.get_all();
    let segments = store(SEGMENTS)?.get_all_keys();
    let manifest = store(META)?.get(&JsValue::from_str(MANIFEST_KEY));
    let keys: Array = get(keys).await?.unchecked_into();
    let values: Array = get(values).await?.unchecked_into();
    let segments: Array = get(segments).await?.unchecked_into();
    let manifest = get(manifest).await?;

    let mut loaded = Vec::with_capacity(keys.length() as usize);
    for (key, value) in keys.iter().zip(values.iter()) {
        if let (Some(key), Some(bytes)) = (parse_key(&key), value.dyn_ref::<Uint8Array>()) {
            loaded.push((key, bytes.to_vec()));
        }
    }
    let segments: Vec<BatchKey> = segments.iter().filter_map(|k| parse_key(&k)).collect();
    let manifest = manifest.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec);
    MirrorStorage::load(manifest, segments, loaded).map_err(super::interop::to_js)
}

/// Applies `changes` in one readwrite transaction; the promise settles on `complete`.
pub fn write(db: &IdbDatabase, changes: &[Change], strict: bool) -> Result<Promise, JsValue> {
    let transaction = transaction(db, "readwrite", if strict { "strict" } else { "relaxed" })?;
    let store = |name: &str| {
        transaction
            .object_store(name)
            .map_err(|e| idb_error("write", e))
    };
    let (batches, segments, meta) = (store(BATCHES)?, store(SEGMENTS)?, store(META)?);
    let done = transaction_promise(&transaction);
    let put = |store: &IdbObjectStore, value: &JsValue, key: &JsValue| {
        store
            .put_with_key(value, key)
            .map(drop)
            .map_err(|e| idb_error("write", e))
    };
    for change in changes {
        let result = match change {
            Change::PutBatch { key: k, bytes } => put(
                &batches,
                &Uint8Array::from(bytes.as_slice()).into(),
                &key(k),
            ),
            Change::DeleteBatch { key: k } => batches
                .delete(&key(k))
                .map(drop)
                .map_err(|e| idb_error("write", e)),
            Change::PutSegment { key: k } => put(&segments, &JsValue::from_f64(1.0), &key(k)),
            Change::DeleteSegment { key: k } => segments
                .delete(&key(k))
                .map(drop)
                .map_err(|e| idb_error("write", e)),
            Change::PutManifest { bytes } => put(
                &meta,
                &Uint8Array::from(bytes.as_slice()).into(),
                &MANIFEST_KEY.into(),
            ),
        };
        if let Err(error) = result {
            let _ = transaction.abort();
            return Err(error);
        }
    }
    // A failed transaction reaches the caller as a BrookError (QUOTA_EXCEEDED when full).
    Ok(wasm_bindgen_futures::future_to_promise(async move {
        JsFuture::from(done)
            .await
            .map_err(|e| idb_error("write", e))
    }))
}

/// Removes a whole database (the demo's reset; tests).
pub async fn delete_database(name: &str) -> Result<(), JsValue> {
    let request = factory()?
        .delete_database(name)
        .map_err(|e| idb_error("delete", e))?;
    let done = request_promise(&request);
    // While another connection (a log in this or another tab) is open the deletion waits for
    // it; say so instead of hanging. The deletion still happens once that log closes.
    let blocked = Promise::new(&mut |_, reject| {
        let on_blocked = Closure::once_into_js(move || {
            let error = js_error(
                ErrorKind::LogLocked,
                "the database is open in a log (here or in another tab); close it first",
            );
            let _ = reject.call1(&JsValue::UNDEFINED, &error);
        });
        request.set_onblocked(Some(on_blocked.unchecked_ref()));
    });
    JsFuture::from(Promise::race(&Array::of2(&done, &blocked)))
        .await
        .map_err(|e| {
            if Reflect::has(&e, &"code".into()).unwrap_or(false) {
                e
            } else {
                idb_error("delete", e)
            }
        })?;
    Ok(())
}
