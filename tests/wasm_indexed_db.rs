// The IndexedDB backend in headless Chromium (wasm-bindgen-test-runner with chromedriver):
//   CHROMEDRIVER=/usr/bin/chromedriver cargo test --target wasm32-unknown-unknown --test wasm_indexed_db
// Writes through the real backend, reads the database back as a reload would, and checks the
// stored layout: one value per batch, keyed [topic, partition, baseOffset].
#![cfg(target_arch = "wasm32")]

use brook::bindings::{delete_indexed_db, load_indexed_db, WasmLog};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in entries {
        Reflect::set(&object, &JsValue::from_str(key), value).unwrap();
    }
    object.into()
}

fn packed(values: &[&str], partition: f64) -> Vec<u8> {
    let mut out = Vec::new();
    for value in values {
        out.push(2 | 4);
        out.extend_from_slice(&partition.to_le_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    out
}

async fn open(name: &str) -> WasmLog {
    let store = load_indexed_db(name.to_owned()).await.unwrap();
    WasmLog::open_indexed_db(store, 3.0).unwrap()
}

fn high(log: &WasmLog, topic: &str, partition: u32) -> f64 {
    let offsets = Array::from(&log.offsets(topic.into()).unwrap());
    Reflect::get(&offsets.get(partition), &"high".into())
        .unwrap()
        .as_f64()
        .unwrap()
}

#[wasm_bindgen_test]
async fn sends_persist_in_one_transaction_and_come_back_on_reload() {
    let name = "brook-test-reload";
    delete_indexed_db(name.to_owned()).await.unwrap();
    let mut log = open(name).await;
    log.create_topic(object(&[("topic", "t".into()), ("partitions", 2.into())]))
        .unwrap();
    let mut producer = log.producer(JsValue::UNDEFINED).unwrap();
    log.send(&mut producer, "t".into(), 3, &packed(&["a", "b", "c"], 1.0))
        .unwrap();
    log.send(&mut producer, "t".into(), 1, &packed(&["d"], 0.0))
        .unwrap();
    JsFuture::from(log.persist(true).unwrap()).await.unwrap();
    // Not persisted: must not come back.
    log.send(&mut producer, "t".into(), 1, &packed(&["lost"], 0.0))
        .unwrap();
    let options = object(&[("groupId", "g".into()), ("fromBeginning", true.into())]);
    let member = log.join_group(options, "t".into()).unwrap();
    log.commit(
        member,
        Array::of1(&object(&[
            ("topic", "t".into()),
            ("partition", 1.into()),
            ("offset", 2.into()),
        ]))
        .into(),
    )
    .unwrap();
    JsFuture::from(log.persist(false).unwrap()).await.unwrap();
    log.close().unwrap();

    let mut log = open(name).await;
    assert_eq!(high(&log, "t", 1), 3.0);
    assert_eq!(
        high(&log, "t", 0),
        2.0,
        "the relaxed flush carried the second batch"
    );
    assert_eq!(log.committed("g", "t", 1), Some(2.0));
    log.close().unwrap();

    // The stored layout: one value per batch.
    let store = load_indexed_db(name.to_owned()).await.unwrap();
    assert_eq!(store.dropped(), 0.0);
    let mut log = WasmLog::open_indexed_db(store, 1.0).unwrap();
    // An open log blocks deleting its database: that is an error, not a hang.
    let error = delete_indexed_db(name.to_owned()).await.unwrap_err();
    assert_eq!(
        Reflect::get(&error, &"code".into())
            .unwrap()
            .as_string()
            .as_deref(),
        Some("LOG_LOCKED")
    );
    log.close().unwrap();
    delete_indexed_db(name.to_owned()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_second_flush_without_changes_writes_nothing_and_closed_logs_refuse() {
    let name = "brook-test-idle";
    delete_indexed_db(name.to_owned()).await.unwrap();
    let mut log = open(name).await;
    JsFuture::from(log.persist(true).unwrap()).await.unwrap();
    JsFuture::from(log.persist(true).unwrap()).await.unwrap();
    log.close().unwrap();
    let error = log.persist(true).unwrap_err();
    assert_eq!(
        Reflect::get(&error, &"code".into())
            .unwrap()
            .as_string()
            .as_deref(),
        Some("CLOSED")
    );
    delete_indexed_db(name.to_owned()).await.unwrap();
}
