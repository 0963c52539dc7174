// The IndexedDB backend in headless Chromium (wasm-bindgen-test-runner with chromedriver):
//   CHROMEDRIVER=/usr/bin/chromedriver cargo test --target wasm32-unknown-unknown --test wasm_indexed_db
// Writes through the real backend and reads the database back as a reload would: batches are
// loaded on demand (a log larger than its cache), flushes are one transaction each.
#![cfg(target_arch = "wasm32")]

use brook::bindings::{delete_indexed_db, load_indexed_db, WasmLog};
use brook::RecordRun;
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

async fn open_with_cache(name: &str, cache_bytes: JsValue) -> WasmLog {
    let store = load_indexed_db(name.to_owned()).await.unwrap();
    let mut log = WasmLog::open_indexed_db(store, 3.0, cache_bytes).unwrap();
    // Opening reads the committed offsets, which may need batches loaded first.
    while !log.finish_open().unwrap() {
        JsFuture::from(log.load_pending()).await.unwrap();
    }
    log
}

async fn open(name: &str) -> WasmLog {
    open_with_cache(name, JsValue::UNDEFINED).await
}

/// `persist`, and its transaction, as the JS wrapper drives them.
async fn persist(log: &mut WasmLog, strict: bool) {
    let started = log.persist(strict).unwrap();
    if started.is_undefined() {
        return;
    }
    assert!(!started.is_null(), "no other flush is in flight");
    let ok = JsFuture::from(js_sys::Promise::from(started)).await.is_ok();
    log.flush_completed(ok);
    assert!(ok, "the flush transaction committed");
}

/// (partition, offset, value) of every record in a poll buffer (see `wire`): its runs hold
/// the records as their batches store them, decoded here by the core's own decoder.
fn records(buffer: &[u8]) -> Vec<(u32, f64, String)> {
    let u32_at = |at: usize| u32::from_le_bytes(buffer[at..at + 4].try_into().unwrap());
    let f64_at = |at: usize| f64::from_le_bytes(buffer[at..at + 8].try_into().unwrap());
    let mut out = Vec::new();
    let mut at = 4;
    for _ in 0..u32_at(0) {
        at += 4 + u32_at(at) as usize;
        // partition u32, high watermark f64, failed offset f64, failures u32, dead-lettered
        // f64, record count u32, run count u32
        let partition = u32_at(at);
        let runs = u32_at(at + 36);
        at += 40;
        for _ in 0..runs {
            let run = RecordRun {
                base_offset: f64_at(at) as i64,
                base_timestamp: f64_at(at + 8) as i64,
                count: u32_at(at + 16),
                bytes: &buffer[at + 24..at + 24 + u32_at(at + 20) as usize],
                owner: None,
            };
            at += 24 + run.bytes.len();
            run.for_each(|record| {
                assert_eq!(record.header_count(), 0);
                let value = String::from_utf8(record.value.unwrap_or_default().to_vec()).unwrap();
                out.push((partition, record.offset as f64, value));
            })
            .unwrap();
        }
    }
    out
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
    persist(&mut log, true).await;
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
    persist(&mut log, false).await;
    log.close().unwrap();

    let mut log = open(name).await;
    assert_eq!(high(&log, "t", 1), 3.0);
    assert_eq!(
        high(&log, "t", 0),
        2.0,
        "the relaxed flush carried the second batch"
    );
    assert_eq!(log.committed("g", "t", 1), Some(2.0));
    assert_eq!(
        Reflect::get(&log.recovery().unwrap(), &"clean".into()).unwrap(),
        JsValue::TRUE
    );
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
async fn a_log_larger_than_its_cache_reads_back_through_loads() {
    let name = "brook-test-large";
    delete_indexed_db(name.to_owned()).await.unwrap();
    let mut log = open_with_cache(name, 0.into()).await;
    log.create_topic(object(&[
        ("topic", "t".into()),
        ("partitions", 2.into()),
        ("segmentBytes", 4096.into()),
    ]))
    .unwrap();
    let mut producer = log.producer(JsValue::UNDEFINED).unwrap();
    let mut sent = Vec::new();
    for round in 0..60 {
        let values: Vec<String> = (0..25).map(|i| format!("r{round}-{i}")).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let partition = (round % 2) as f64;
        log.send(&mut producer, "t".into(), 25, &packed(&refs, partition))
            .unwrap();
        sent.extend(values.iter().map(|v| (partition as u32, v.clone())));
        persist(&mut log, round % 3 == 0).await;
    }
    log.close().unwrap();

    let mut log = open_with_cache(name, 0.into()).await;
    assert_eq!(high(&log, "t", 0), 750.0);
    assert_eq!(high(&log, "t", 1), 750.0);
    let options = object(&[
        ("groupId", "g".into()),
        ("fromBeginning", true.into()),
        ("autoCommit", false.into()),
    ]);
    let member = log.join_group(options, "t".into()).unwrap();
    let mut seen: Vec<(u32, f64, String)> = Vec::new();
    let mut loads = 0;
    while seen.len() < sent.len() {
        log.poll(member, 100.into(), 1_000_000.into()).unwrap();
        let buffer = log.read_bytes();
        seen.extend(records(&buffer));
        if log.has_pending_loads() {
            loads += 1;
            JsFuture::from(log.load_pending()).await.unwrap();
        }
        assert!(
            loads < 1000,
            "reads make progress ({} of {})",
            seen.len(),
            sent.len()
        );
    }
    assert!(
        loads > 2,
        "a zero-byte cache loads batches as they are read ({loads} loads)"
    );
    for partition in 0..2 {
        let got: Vec<(f64, &str)> = seen
            .iter()
            .filter(|r| r.0 == partition)
            .map(|r| (r.1, r.2.as_str()))
            .collect();
        let want: Vec<&str> = sent
            .iter()
            .filter(|s| s.0 == partition)
            .map(|s| s.1.as_str())
            .collect();
        assert_eq!(got.len(), want.len(), "partition {partition}: every record");
        for (index, (offset, value)) in got.iter().enumerate() {
            assert_eq!(
                *offset, index as f64,
                "partition {partition}: offsets in order"
            );
            assert_eq!(*value, want[index]);
        }
    }
    // Committed inside batches (of 25): after a reload the loads start from the batch that
    // holds each offset, below it, and bring what follows.
    let commit = |partition: u32, offset: u32| {
        object(&[
            ("topic", "t".into()),
            ("partition", partition.into()),
            ("offset", offset.into()),
        ])
    };
    log.commit(member, Array::of2(&commit(0, 412), &commit(1, 700)).into())
        .unwrap();
    persist(&mut log, true).await;
    log.close().unwrap();
    let mut log = open_with_cache(name, 0.into()).await;
    let options = object(&[("groupId", "g".into()), ("autoCommit", false.into())]);
    let member = log.join_group(options, "t".into()).unwrap();
    let mut seen: Vec<(u32, f64, String)> = Vec::new();
    for _ in 0..1000 {
        log.poll(member, 100.into(), 1_000_000.into()).unwrap();
        let buffer = log.read_bytes();
        let got = records(&buffer);
        if got.is_empty() && !log.has_pending_loads() {
            break;
        }
        seen.extend(got);
        if log.has_pending_loads() {
            JsFuture::from(log.load_pending()).await.unwrap();
        }
    }
    for (partition, from) in [(0, 412.0), (1, 700.0)] {
        let offsets: Vec<f64> = seen
            .iter()
            .filter(|r| r.0 == partition)
            .map(|r| r.1)
            .collect();
        let want: Vec<f64> = (from as u32..750).map(f64::from).collect();
        assert_eq!(
            offsets, want,
            "partition {partition}: from its committed offset"
        );
    }
    log.close().unwrap();
    delete_indexed_db(name.to_owned()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_failed_flush_takes_its_offsets_back_and_a_reload_shows_the_durable_log() {
    let name = "brook-test-failed-flush";
    delete_indexed_db(name.to_owned()).await.unwrap();
    let mut log = open(name).await;
    log.create_topic(object(&[("topic", "t".into())])).unwrap();
    let mut producer = log.producer(JsValue::UNDEFINED).unwrap();
    log.send(&mut producer, "t".into(), 2, &packed(&["a", "b"], 0.0))
        .unwrap();
    persist(&mut log, true).await;
    log.send(&mut producer, "t".into(), 1, &packed(&["c"], 0.0))
        .unwrap();
    // One flush at a time: a second persist while the first is in flight is refused (null).
    let started = log.persist(true).unwrap();
    assert!(started.is_object());
    assert!(log.persist(true).unwrap().is_null());
    // Report the write as failed (as a quota error would): the log takes "c" back...
    let _ = JsFuture::from(js_sys::Promise::from(started)).await;
    log.flush_completed(false);
    assert_eq!(
        high(&log, "t", 0),
        2.0,
        "the failed flush's offsets are handed out again"
    );
    // ...and reloads what the database holds, which here did commit "c".
    log.replace_store(load_indexed_db(name.to_owned()).await.unwrap())
        .unwrap();
    while !log.finish_open().unwrap() {
        JsFuture::from(log.load_pending()).await.unwrap();
    }
    assert_eq!(
        high(&log, "t", 0),
        3.0,
        "the reload sees what the database committed"
    );
    let placed = log
        .send(&mut producer, "t".into(), 1, &packed(&["d"], 0.0))
        .unwrap();
    assert_eq!(
        placed,
        vec![0.0, 3.0],
        "the next record follows the durable log"
    );
    persist(&mut log, true).await;
    log.close().unwrap();
    let mut log = open(name).await;
    assert_eq!(high(&log, "t", 0), 4.0);
    log.close().unwrap();
    delete_indexed_db(name.to_owned()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_second_flush_without_changes_writes_nothing_and_closed_logs_refuse() {
    let name = "brook-test-idle";
    delete_indexed_db(name.to_owned()).await.unwrap();
    let mut log = open(name).await;
    persist(&mut log, true).await;
    assert!(
        log.persist(true).unwrap().is_undefined(),
        "nothing to write"
    );
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

/// A small deterministic generator: the sequence is the same on every run and engine.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[wasm_bindgen_test]
async fn random_sends_flushes_failures_and_reopens_against_a_model() {
    // The model: per partition the values acknowledged (their flush committed) in offset
    // order, and those sent since. After every reopen the log holds exactly the acknowledged
    // values at their offsets: a crash loses only what was never persisted.
    let name = "brook-test-model";
    for seed in 1..=3u64 {
        delete_indexed_db(name.to_owned()).await.unwrap();
        let mut random = Lcg(seed);
        let mut log = open_with_cache(name, 4096.into()).await;
        log.create_topic(object(&[
            ("topic", "t".into()),
            ("partitions", 2.into()),
            ("segmentBytes", 2048.into()),
        ]))
        .unwrap();
        persist(&mut log, true).await;
        let mut producer = log.producer(JsValue::UNDEFINED).unwrap();
        let mut acknowledged: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        let mut pending: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        let mut counter = 0;
        for _ in 0..60 {
            match random.below(10) {
                0..=4 => {
                    let partition = random.below(2) as usize;
                    let count = 1 + random.below(6) as usize;
                    let values: Vec<String> = (0..count)
                        .map(|_| {
                            counter += 1;
                            format!(
                                "s{seed}-{counter}-{}",
                                "v".repeat(random.below(300) as usize)
                            )
                        })
                        .collect();
                    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                    let placed = log
                        .send(
                            &mut producer,
                            "t".into(),
                            count as u32,
                            &packed(&refs, partition as f64),
                        )
                        .unwrap();
                    let expected =
                        (acknowledged[partition].len() + pending[partition].len()) as f64;
                    assert_eq!(placed[1], expected, "offsets follow what the log holds");
                    pending[partition].extend(values);
                }
                5..=7 => {
                    persist(&mut log, random.below(2) == 0).await;
                    for p in 0..2 {
                        acknowledged[p].append(&mut pending[p]);
                    }
                }
                8 => {
                    // The write reaches the database, but the log hears that it failed: it
                    // takes everything back and reloads what the database holds.
                    let started = log.persist(true).unwrap();
                    if started.is_object() {
                        let _ = JsFuture::from(js_sys::Promise::from(started)).await;
                        log.flush_completed(false);
                        log.replace_store(load_indexed_db(name.to_owned()).await.unwrap())
                            .unwrap();
                        while !log.finish_open().unwrap() {
                            JsFuture::from(log.load_pending()).await.unwrap();
                        }
                        for p in 0..2 {
                            // The reload shows the database: the "failed" flush did commit.
                            acknowledged[p].append(&mut pending[p]);
                        }
                    }
                }
                _ => {
                    // A clean reopen (persist, close), or a crash: closed without the write
                    // of what is pending (the bindings' close writes nothing by itself).
                    if random.below(2) == 0 {
                        persist(&mut log, true).await;
                        for p in 0..2 {
                            acknowledged[p].append(&mut pending[p]);
                        }
                    } else {
                        for p in 0..2 {
                            pending[p].clear();
                        }
                    }
                    log.close().unwrap();
                    log = open_with_cache(name, 4096.into()).await;
                    producer = log.producer(JsValue::UNDEFINED).unwrap();
                    let options = object(&[
                        ("groupId", format!("check-{counter}").into()),
                        ("fromBeginning", true.into()),
                        ("autoCommit", false.into()),
                    ]);
                    let member = log.join_group(options, "t".into()).unwrap();
                    let mut seen: [Vec<String>; 2] = [Vec::new(), Vec::new()];
                    for _ in 0..10_000 {
                        log.poll(member, 50.into(), 1_000_000.into()).unwrap();
                        let buffer = log.read_bytes();
                        let got = records(&buffer);
                        let empty = got.is_empty();
                        for (partition, offset, value) in got {
                            assert_eq!(offset as usize, seen[partition as usize].len());
                            seen[partition as usize].push(value);
                        }
                        if log.has_pending_loads() {
                            JsFuture::from(log.load_pending()).await.unwrap();
                        } else if empty {
                            break;
                        }
                    }
                    log.leave_group(member).unwrap();
                    for p in 0..2 {
                        assert_eq!(
                            seen[p], acknowledged[p],
                            "seed {seed}: partition {p} after a reopen"
                        );
                    }
                }
            }
        }
        log.close().unwrap();
        delete_indexed_db(name.to_owned()).await.unwrap();
    }
}
