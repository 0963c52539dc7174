// The wasm bindings' own tests, run in Node by wasm-bindgen-test-runner:
//   cargo test --target wasm32-unknown-unknown --test wasm_bindings
// They call the exported `WasmLog` as JS would, with wrong types and sizes as well as right
// ones, and check that every failure is a JS error with a stable `code` and that the
// instance keeps working afterwards (a panic would poison it).
#![cfg(target_arch = "wasm32")]

use brook::bindings::WasmLog;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in entries {
        Reflect::set(&object, &JsValue::from_str(key), value).unwrap();
    }
    object.into()
}

fn code(error: JsValue) -> String {
    assert_eq!(
        Reflect::get(&error, &"name".into())
            .unwrap()
            .as_string()
            .as_deref(),
        Some("BrookError")
    );
    Reflect::get(&error, &"code".into())
        .unwrap()
        .as_string()
        .unwrap()
}

/// One message in the send wire format: value only, or with an explicit partition.
fn packed(values: &[&str], partition: Option<f64>) -> Vec<u8> {
    let mut out = Vec::new();
    for value in values {
        out.push(if partition.is_some() { 2 | 4 } else { 2 });
        if let Some(p) = partition {
            out.extend_from_slice(&p.to_le_bytes());
        }
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    out
}

fn log_with_topic(partitions: f64) -> WasmLog {
    let mut log = WasmLog::open_memory(1.0, JsValue::UNDEFINED).unwrap();
    let request = object(&[("topic", "t".into()), ("partitions", partitions.into())]);
    log.create_topic(request).unwrap();
    log
}

#[wasm_bindgen_test]
fn send_and_poll_round_trip_through_the_packed_formats() {
    let mut log = log_with_topic(2.0);
    let mut producer = log.producer(JsValue::UNDEFINED).unwrap();
    let placed = log
        .send(
            &mut producer,
            "t".into(),
            3,
            &packed(&["a", "b", "c"], Some(1.0)),
        )
        .unwrap();
    assert_eq!(placed, vec![1.0, 0.0, 1.0, 1.0, 1.0, 2.0]);
    assert!(
        log.persist(true).unwrap().is_undefined(),
        "memory persists at once"
    );
    let options = object(&[("groupId", "g".into()), ("fromBeginning", true.into())]);
    let member = log
        .join_group(options, Array::of1(&"t".into()).into())
        .unwrap();
    assert_eq!(log.ready_members(vec![member]), vec![member]);
    log.poll(member, 10.into(), 1_000_000.into()).unwrap();
    let buffer = log.read_bytes();
    assert_eq!(
        u32::from_le_bytes(buffer[0..4].try_into().unwrap()),
        1,
        "one partition chunk"
    );
    assert!(
        log.ready_members(vec![member]).is_empty(),
        "the position moved to the end"
    );
    assert_eq!(
        log.committed("g", "t", 1),
        None,
        "a commit counts once it is durable"
    );
    log.persist(true).unwrap();
    assert_eq!(log.committed("g", "t", 1), Some(3.0));
}

#[wasm_bindgen_test]
fn numbers_are_checked_not_coerced() {
    let mut log = WasmLog::open_memory(2.0, JsValue::UNDEFINED).unwrap();
    for (partitions, expected) in [
        (JsValue::from_str("3"), "INVALID_PARTITIONS"),
        (JsValue::from_f64(0.0), "INVALID_PARTITIONS"),
        (JsValue::from_f64(1.5), "INVALID_PARTITIONS"),
        (JsValue::from_f64(f64::NAN), "INVALID_PARTITIONS"),
        (JsValue::from_f64(1e12), "INVALID_PARTITIONS"),
        (JsValue::NULL, "INVALID_PARTITIONS"),
    ] {
        let request = object(&[("topic", "t".into()), ("partitions", partitions)]);
        assert_eq!(code(log.create_topic(request).unwrap_err()), expected);
    }
    let typo = object(&[("topic", "t".into()), ("retentionMS", 5.into())]);
    assert_eq!(
        code(log.create_topic(typo).unwrap_err()),
        "INVALID_ARGUMENT"
    );
    let bad_name = object(&[("topic", "../x".into())]);
    assert_eq!(
        code(log.create_topic(bad_name).unwrap_err()),
        "INVALID_TOPIC_NAME"
    );
    assert_eq!(
        code(log.create_topic(JsValue::from_f64(3.0)).unwrap_err()),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(log.create_topic(JsValue::UNDEFINED).unwrap_err()),
        "INVALID_ARGUMENT"
    );
    let policy = object(&[("topic", "t".into()), ("cleanupPolicy", "gzip".into())]);
    assert_eq!(
        code(log.create_topic(policy).unwrap_err()),
        "INVALID_CONFIG"
    );
    // Still usable.
    log.create_topic(object(&[("topic", "t".into())])).unwrap();
    assert_eq!(Array::from(&log.topics(false).unwrap()).length(), 1);
}

#[wasm_bindgen_test]
fn garbage_send_buffers_and_bad_arguments_never_poison_the_instance() {
    let mut log = log_with_topic(1.0);
    let mut producer = log.producer(JsValue::UNDEFINED).unwrap();
    let mut seed = 7u32;
    for length in 0..200usize {
        let garbage: Vec<u8> = (0..length)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (seed >> 16) as u8
            })
            .collect();
        let _ = log.send(&mut producer, "t".into(), (length % 5) as u32, &garbage);
    }
    assert_eq!(
        code(
            log.send(&mut producer, "t".into(), 1, &packed(&["x"], Some(3.0)))
                .unwrap_err()
        ),
        "INVALID_PARTITION"
    );
    assert_eq!(
        code(
            log.send(&mut producer, "t".into(), 1, &packed(&["x"], Some(-1.0)))
                .unwrap_err()
        ),
        "INVALID_PARTITION"
    );
    assert_eq!(
        code(
            log.send(&mut producer, 5.into(), 1, &packed(&["x"], None))
                .unwrap_err()
        ),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(
            log.send(&mut producer, "nope".into(), 1, &packed(&["x"], None))
                .unwrap_err()
        ),
        "UNKNOWN_TOPIC"
    );
    assert_eq!(
        code(log.send(&mut producer, "t".into(), 0, &[]).unwrap_err()),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(log.producer("hash".into()).unwrap_err()),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(log.offsets(JsValue::NULL).unwrap_err()),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(log.poll(12345.0, 1.into(), 1.into()).unwrap_err()),
        "UNKNOWN_MEMBER_ID"
    );
    assert_eq!(
        code(log.poll(-1.0, 1.into(), 1.into()).unwrap_err()),
        "UNKNOWN_MEMBER_ID"
    );
    let options = object(&[("groupId", "g".into())]);
    let member = log.join_group(options, "t".into()).unwrap();
    assert_eq!(
        code(log.poll(member, "10".into(), 1.into()).unwrap_err()),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(
            log.seek(member, "t".into(), 0.into(), "0".into())
                .unwrap_err()
        ),
        "OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(
        code(
            log.seek(member, "t".into(), 1.5.into(), 0.into())
                .unwrap_err()
        ),
        "INVALID_PARTITION"
    );
    let bad_commit = Array::of1(&object(&[
        ("topic", "t".into()),
        ("partition", 0.into()),
        ("offset", 99.into()),
    ]));
    assert_eq!(
        code(log.commit(member, bad_commit.into()).unwrap_err()),
        "OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(
        code(log.commit(member, JsValue::from_str("x")).unwrap_err()),
        "INVALID_ARGUMENT"
    );
    let unknown_option = object(&[("groupId", "h".into()), ("autocommit", true.into())]);
    assert_eq!(
        code(log.join_group(unknown_option, "t".into()).unwrap_err()),
        "INVALID_ARGUMENT"
    );
    // After all that, the log still takes and serves records.
    let placed = log
        .send(&mut producer, "t".into(), 2, &packed(&["ok", "fine"], None))
        .unwrap();
    assert_eq!(placed.len(), 4);
    log.close().unwrap();
    assert_eq!(
        code(
            log.send(&mut producer, "t".into(), 1, &packed(&["x"], None))
                .unwrap_err()
        ),
        "CLOSED"
    );
    assert_eq!(code(log.topics(false).unwrap_err()), "CLOSED");
}

#[wasm_bindgen_test]
fn a_leased_fetch_shares_its_tables_through_wasm_memory() {
    let mut log = log_with_topic(2.0);
    let mut producer = log.producer(JsValue::UNDEFINED).unwrap();
    log.send(
        &mut producer,
        "t".into(),
        3,
        &packed(&["a", "b", "c"], Some(0.0)),
    )
    .unwrap();
    log.persist(true).unwrap();
    assert!(
        log.delivery_tables().is_empty(),
        "no tables before the first join"
    );
    let options = object(&[("groupId", "g".into()), ("fromBeginning", true.into())]);
    let member = log
        .join_group(options, Array::of1(&"t".into()).into())
        .unwrap();
    let tables = log.delivery_tables();
    assert_eq!(tables.len(), 3);
    let slot = log.member_slot(member).unwrap() as usize;
    let memory: js_sys::WebAssembly::Memory = brook::bindings::wasm_memory().into();
    let epochs = js_sys::Uint32Array::new_with_byte_offset_and_length(
        &memory.buffer(),
        tables[0],
        tables[2],
    );
    let handed = js_sys::Float64Array::new_with_byte_offset_and_length(
        &memory.buffer(),
        tables[1],
        2 * tables[2],
    );
    log.fetch_lease(member, 10.into(), 1_000_000.into())
        .unwrap();
    let buffer = log.read_bytes();
    let lease = f64::from_le_bytes(buffer[0..8].try_into().unwrap());
    assert!(lease > 0.0);
    assert_eq!(
        u32::from_le_bytes(buffer[8..12].try_into().unwrap()),
        1,
        "one chunk"
    );
    // Auto commit: the chunk's end is committed as it starts, durable before delivery.
    handed.set_index(2 * slot as u32, 0.0);
    handed.set_index(2 * slot as u32 + 1, -1.0);
    assert_eq!(log.start_chunk(member, lease, 0).unwrap(), 2);
    handed.set_index(2 * slot as u32 + 1, 0.0);
    // A pause bumps the epoch, which the table shows without a call.
    let before = epochs.get_index(slot as u32);
    let pause = Array::of1(&object(&[("topic", "t".into())]));
    log.set_paused(member, pause.into(), true).unwrap();
    assert_eq!(epochs.get_index(slot as u32), before + 1);
    assert_eq!(
        log.start_chunk(member, lease, 0).unwrap(),
        0,
        "paused: the rest is skipped"
    );
    // Released: offsets 1 and 2 go back, and the commit follows what was handed over.
    log.release_lease(member, lease).unwrap();
    log.persist(true).unwrap();
    assert_eq!(log.committed("g", "t", 0), Some(1.0));
    assert_eq!(
        log.position(member, "t".into(), 0.into()).unwrap(),
        Some(1.0)
    );
}

#[wasm_bindgen_test]
fn the_heap_grows_wasm_memory_in_steps_that_scale_with_it() {
    // std's allocator grows the memory by what each allocation needs: a 40 KiB batch at a
    // time, a grow (and, in V8, a garbage collection) each. brook's grows by a sixteenth.
    let pages = || core::arch::wasm32::memory_size(0);
    let mut grows = 0;
    let mut last = pages();
    let mut kept = Vec::new();
    for index in 0..1_000u32 {
        let mut batch = Vec::with_capacity(40 * 1024);
        batch.resize(40 * 1024, index as u8);
        kept.push(batch);
        if pages() != last {
            grows += 1;
            last = pages();
        }
    }
    assert!(last >= 600, "40 MB were allocated: {last} pages");
    assert!(
        grows <= 80,
        "{grows} grows for 40 MB; one per allocation would be about 600"
    );
    assert!(kept
        .iter()
        .enumerate()
        .all(|(i, b)| b.iter().all(|&v| v == i as u8)));
    // Freed memory is used again before the memory grows.
    drop(kept);
    let again: Vec<Vec<u8>> = (0..500).map(|_| vec![1u8; 40 * 1024]).collect();
    assert_eq!(pages(), last);
    // A request the memory cannot hold fails as an error, and the heap goes on working.
    let mut huge: Vec<u8> = Vec::new();
    assert!(huge.try_reserve(3_900_000_000).is_err());
    assert_eq!(again.len(), 500);
    assert_eq!(
        vec![7u8; 1 << 20]
            .iter()
            .map(|&v| v as usize)
            .sum::<usize>(),
        7 << 20
    );
}
