// The IndexedDB backend: the durable copy of a `KeyedStore`. A database has three object
// stores: `batches` (key [topic, partition, baseOffset] -> the RecordBatch bytes; one value per
// batch, never one per message), `segments` (key [topic, partition, baseOffset] -> the
// segment's summary) and `meta` ("manifest" -> bytes). Opening reads the manifest and the
// summaries only; batches are read when a reader needs them (`load`), a few at a time. Each
// flush applies the store's journal in ONE readwrite transaction with the durability hint of
// the log; its `complete` event is the durability point, so a flush is all or nothing.
// `indexedDB` is looked up lazily, so this module loads in Node too.

use std::rc::Rc;

use js_sys::{Array, JsString, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbFactory, IdbKeyRange, IdbObjectStore, IdbOpenDbRequest, IdbRequest,
    IdbTransaction,
};

use super::interop::js_error;
use crate::error::ErrorKind;
use crate::keyed_store::{
    check_stored_batch, decode_summary, encode_summary, stored_next_offset, summarize_segment,
    BatchKey, BatchRun, Change, KeyedImage, Load, LoadBudget, LOAD_BATCHES_MAX,
};
use crate::record_batch::BATCH_BYTES_MAX;
use crate::sorted_map::{sort_unstable, SortedMap};
use crate::store::{PartitionKey, PartitionRecovery, SegmentSummary};

/// 2: segment values are summaries (this engine). brook 0.1 opens version 1 and so fails
/// with a VersionError on an upgraded database, rather than misreading it.
const VERSION: u32 = 2;
const BATCHES: &str = "batches";
const SEGMENTS: &str = "segments";
const META: &str = "meta";
const MANIFEST_KEY: &str = "manifest";
/// How long a blocked deletion waits for closing connections before it reports LOG_LOCKED.
const BLOCKED_GRACE_MS: f64 = 1000.0;

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

fn key_value(partition: &PartitionKey, base_offset: i64) -> JsValue {
    Array::of3(
        &JsValue::from_str(&partition.topic),
        &JsValue::from_f64(partition.partition as f64),
        &JsValue::from_f64(base_offset as f64),
    )
    .into()
}

fn key(key: &BatchKey) -> JsValue {
    key_value(&key.partition, key.base_offset)
}

/// A stored key back to a BatchKey; None for anything brook did not write.
fn parse_key(value: &JsValue) -> Option<BatchKey> {
    let array: &Array = value.dyn_ref()?;
    let topic = array.get(0).as_string()?;
    let partition = array.get(1).as_f64()?;
    let base_offset = array.get(2).as_f64()?;
    if partition.fract() != 0.0
        || partition < 0.0
        || partition > u32::MAX as f64
        || base_offset.fract() != 0.0
        || base_offset < 0.0
    {
        return None;
    }
    Some(BatchKey {
        partition: PartitionKey::new(&topic, partition as u32),
        base_offset: base_offset as i64,
    })
}

/// Keys of one partition from `from` (inclusive) to `to` (exclusive).
fn range(partition: &PartitionKey, from: i64, to: i64) -> Result<IdbKeyRange, JsValue> {
    IdbKeyRange::bound_with_lower_open_and_upper_open(
        &key_value(partition, from),
        &key_value(partition, to),
        false,
        true,
    )
    .map_err(|e| idb_error("key range", e))
}

async fn get(request: Result<IdbRequest, JsValue>) -> Result<JsValue, JsValue> {
    let request = request.map_err(|e| idb_error("read", e))?;
    JsFuture::from(request_promise(&request))
        .await
        .map_err(|e| idb_error("read", e))
}

/// `db.transaction(stores, mode, { durability })`, called through JS: web-sys has the
/// durability option only behind its unstable-API flag.
fn transaction(
    db: &IdbDatabase,
    stores: &[&str],
    mode: &str,
    durability: &str,
) -> Result<IdbTransaction, JsValue> {
    let names = Array::new();
    for store in stores {
        names.push(&JsString::from(*store));
    }
    let options = js_sys::Object::new();
    Reflect::set(&options, &"durability".into(), &durability.into())?;
    let method: js_sys::Function = Reflect::get(db, &"transaction".into())?.dyn_into()?;
    method
        .call3(db, &names, &mode.into(), &options)
        .map(JsCast::unchecked_into)
        .map_err(|e| idb_error("transaction", e))
}

/// What opening a database read: the manifest and every segment's summary (no batches), and
/// what a store of brook 0.1 (which kept no summaries) needed to have computed.
pub struct Opened {
    pub image: KeyedImage,
    /// Summaries computed from a 0.1 store's batches, to be written with the next flush.
    pub migrated: Vec<(PartitionKey, SegmentSummary)>,
    pub recovery: SortedMap<PartitionKey, PartitionRecovery>,
}

/// Reads the manifest and the segment summaries. A segment stored the 0.1 way (its value is
/// 1, not a summary) has its batches read once, to summarize it.
pub async fn load(db: &IdbDatabase) -> Result<Opened, JsValue> {
    let transaction = transaction(db, &[BATCHES, SEGMENTS, META], "readonly", "default")?;
    let store = |name: &str| -> Result<IdbObjectStore, JsValue> {
        transaction
            .object_store(name)
            .map_err(|e| idb_error("read", e))
    };
    let segments = store(SEGMENTS)?;
    // Issued together in one transaction, so keys and values are of the same snapshot.
    let keys = segments.get_all_keys();
    let values = segments.get_all();
    let manifest = store(META)?.get(&JsValue::from_str(MANIFEST_KEY));
    let keys: Array = get(keys).await?.unchecked_into();
    let values: Array = get(values).await?.unchecked_into();
    let manifest = get(manifest).await?;

    let mut opened = Opened {
        image: KeyedImage {
            manifest: manifest.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec),
            ..KeyedImage::default()
        },
        migrated: Vec::new(),
        recovery: SortedMap::new(),
    };
    let mut older: SortedMap<PartitionKey, Vec<i64>> = SortedMap::new();
    let mut all: SortedMap<PartitionKey, Vec<i64>> = SortedMap::new();
    for (key, value) in keys.iter().zip(values.iter()) {
        let Some(key) = parse_key(&key) else { continue };
        all.get_or_insert_with(key.partition.clone(), Default::default)
            .push(key.base_offset);
        match value.dyn_ref::<Uint8Array>().map(stored_bytes) {
            Some(bytes) => match decode_summary(key.base_offset, &bytes) {
                Some(summary) => {
                    opened.image.segments.insert(key, summary);
                }
                None => older
                    .get_or_insert_with(key.partition, Default::default)
                    .push(key.base_offset),
            },
            None => older
                .get_or_insert_with(key.partition, Default::default)
                .push(key.base_offset),
        }
    }
    let batches = store(BATCHES)?;
    for (partition, bases) in older {
        let mut every: Vec<i64> = all.get(&partition).cloned().unwrap_or_default();
        sort_unstable(&mut every);
        for base in bases {
            let end = every.iter().copied().find(|&b| b > base);
            // A chunk at a time, each checked and dropped: a 0.1 segment may be large.
            let mut checked = Vec::new();
            let mut lower = key_value(&partition, base);
            let mut lower_open = false;
            loop {
                let upper = key_value(&partition, end.unwrap_or(i64::MAX / 2));
                let range = IdbKeyRange::bound_with_lower_open_and_upper_open(
                    &lower, &upper, lower_open, true,
                )
                .map_err(|e| idb_error("key range", e))?;
                let keys = batches.get_all_keys_with_key_and_limit(&range, LOAD_BATCHES_MAX);
                let values = batches.get_all_with_key_and_limit(&range, LOAD_BATCHES_MAX);
                let keys: Array = get(keys).await?.unchecked_into();
                let values: Array = get(values).await?.unchecked_into();
                for (k, v) in keys.iter().zip(values.iter()) {
                    let Some(key) = parse_key(&k) else { continue };
                    let bytes = v
                        .dyn_ref::<Uint8Array>()
                        .map(stored_bytes)
                        .unwrap_or_default();
                    checked.push(check_stored_batch(key.base_offset, &bytes));
                }
                if keys.length() < LOAD_BATCHES_MAX {
                    break;
                }
                lower = keys.get(keys.length() - 1);
                lower_open = true;
            }
            let recovery = opened
                .recovery
                .get_or_insert_with(partition.clone(), Default::default);
            let summary = summarize_segment(&partition, base, &checked, end, recovery);
            opened.image.segments.insert(
                BatchKey {
                    partition: partition.clone(),
                    base_offset: base,
                },
                summary,
            );
            opened.migrated.push((partition.clone(), summary));
        }
    }
    Ok(opened)
}

/// Reads what `loads` ask for, in one readonly transaction: the batch holding (or following)
/// the offset within its segment, and those after it. Returns each load's run and whether it
/// reached the segment's end.
///
/// Every load's requests go out at once (the database answers them in order) rather than one
/// round trip after another; a second one only for a load whose offset a batch starting below
/// it may hold (a group's committed offset inside a batch, a gap compaction left).
pub async fn fetch(db: &IdbDatabase, loads: &[Load]) -> Result<Vec<(BatchRun, bool)>, JsValue> {
    let transaction = transaction(db, &[BATCHES], "readonly", "default")?;
    let batches = transaction
        .object_store(BATCHES)
        .map_err(|e| idb_error("read", e))?;
    let mut requests = Vec::with_capacity(loads.len());
    for load in loads {
        // The greatest key at or below the offset, within the segment.
        let below = IdbKeyRange::bound(
            &key_value(&load.partition, load.segment_base),
            &key_value(&load.partition, load.offset),
        )
        .map_err(|e| idb_error("key range", e))?;
        let floor =
            requested(batches.open_key_cursor_with_range_and_direction(
                &below,
                web_sys::IdbCursorDirection::Prev,
            ))?;
        let from_offset = range(
            &load.partition,
            load.offset,
            load.segment_next.max(load.offset + 1),
        )?;
        let limit = LoadBudget::new(load).keys_max(None);
        let keys = requested(batches.get_all_keys_with_key_and_limit(&from_offset, limit))?;
        let values = requested(batches.get_all_with_key_and_limit(&from_offset, limit))?;
        requests.push((floor, keys, values, limit));
    }
    let mut runs = Vec::with_capacity(loads.len());
    for (load, (floor, keys, values, limit)) in loads.iter().zip(requests) {
        let floor = match answer(floor).await? {
            value if value.is_null() || value.is_undefined() => None,
            value => {
                let cursor: web_sys::IdbCursor = value.unchecked_into();
                cursor
                    .key()
                    .ok()
                    .as_ref()
                    .and_then(parse_key)
                    .map(|k| k.base_offset)
            }
        };
        let mut budget = LoadBudget::new(load);
        // Into wasm memory only up to the load's budget: batches larger than the segment's
        // average would otherwise bring far more than planned.
        let mut run: BatchRun = Vec::new();
        if let Some(floor) = floor.filter(|&floor| floor < load.offset) {
            let value = answer(requested(batches.get(&key_value(&load.partition, floor)))?).await?;
            if let Some(value) = value.dyn_ref::<Uint8Array>() {
                // The first batch of a load: always admitted, uncounted when it ends before
                // the offset (its header says where).
                let bytes = stored_bytes(value);
                budget.admit(floor, bytes.len() as u64, stored_next_offset(&bytes));
                run.push((floor, Rc::new(bytes)));
            }
        }
        let keys: Array = answer(keys).await?.unchecked_into();
        let values: Array = answer(values).await?.unchecked_into();
        let mut reached_end = keys.length() < limit;
        for (k, v) in keys.iter().zip(values.iter()) {
            let (Some(key), Some(value)) = (parse_key(&k), v.dyn_ref::<Uint8Array>()) else {
                continue;
            };
            if !budget.admit(key.base_offset, value.length() as u64, None) {
                reached_end = false;
                break;
            }
            run.push((key.base_offset, Rc::new(stored_bytes(value))));
        }
        runs.push((run, reached_end));
    }
    Ok(runs)
}

/// A stored batch's (or segment summary's) bytes in wasm memory, in a buffer sized as
/// `batch_buffer` sizes them. A value longer than any batch is damage whatever it holds: only
/// one byte more than a batch's most is copied (its checks fail on the length), so that a
/// damaged gigabyte-long value cannot take the instance's memory down.
fn stored_bytes(value: &Uint8Array) -> Vec<u8> {
    let len = (value.length() as usize).min(BATCH_BYTES_MAX + 1);
    let mut bytes = crate::store::batch_buffer(len);
    value.subarray(0, len as u32).copy_to(&mut bytes);
    bytes
}

/// A request's answer, listened for now (its events may come before the caller awaits it).
fn requested(request: Result<IdbRequest, JsValue>) -> Result<JsFuture, JsValue> {
    let request = request.map_err(|e| idb_error("read", e))?;
    Ok(JsFuture::from(request_promise(&request)))
}

async fn answer(request: JsFuture) -> Result<JsValue, JsValue> {
    request.await.map_err(|e| idb_error("read", e))
}

/// Applies `changes` in one readwrite transaction, made at the first poll; done on
/// `complete`.
pub async fn write(db: &IdbDatabase, changes: &[Change], strict: bool) -> Result<JsValue, JsValue> {
    let transaction = transaction(
        db,
        &[BATCHES, SEGMENTS, META],
        "readwrite",
        if strict { "strict" } else { "relaxed" },
    )?;
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
            Change::DeleteBatches {
                partition,
                from,
                to,
            } => range(partition, *from, (*to).min(i64::MAX / 2)).and_then(|range| {
                batches
                    .delete(&range)
                    .map(drop)
                    .map_err(|e| idb_error("write", e))
            }),
            Change::PutSegment { key: k, summary } => put(
                &segments,
                &Uint8Array::from(encode_summary(summary).as_slice()).into(),
                &key(k),
            ),
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
    JsFuture::from(done)
        .await
        .map_err(|e| idb_error("write", e))
}

/// Removes a whole database (the demo's reset; tests).
pub async fn delete_database(name: &str) -> Result<(), JsValue> {
    let request = factory()?
        .delete_database(name)
        .map_err(|e| idb_error("delete", e))?;
    let done = request_promise(&request);
    // While another connection (a log in this or another tab) is open the deletion waits for
    // it; say so instead of hanging. The deletion still happens once that log closes.
    // `blocked` also fires for a connection that is closing but still finishing a transaction
    // (a log closed just now): give that a moment before calling the database open elsewhere.
    let blocked = Promise::new(&mut |_, reject| {
        let on_blocked = Closure::once_into_js(move || {
            let error = js_error(
                ErrorKind::LogLocked,
                "the database is open in a log (here or in another tab); close it first",
            );
            let fail = Closure::once_into_js(move || {
                let _ = reject.call1(&JsValue::UNDEFINED, &error);
            });
            let set_timeout = Reflect::get(&js_sys::global(), &"setTimeout".into())
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
            match set_timeout {
                Some(set_timeout) => {
                    let _ = set_timeout.call2(
                        &JsValue::UNDEFINED,
                        &fail,
                        &JsValue::from_f64(BLOCKED_GRACE_MS),
                    );
                }
                None => {
                    let _ = fail
                        .unchecked_ref::<js_sys::Function>()
                        .call0(&JsValue::UNDEFINED);
                }
            }
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
