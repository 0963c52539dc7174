// The seed article's inventory story, told through brook's core.
//
// A shop emits `new_product`, `increase_inventory` and `reduce_inventory` events. A consumer
// applies them to a stock table, reading the three partitions at different speeds (as
// separate consumers would). With random placement, a product's events end up on different
// partitions and get applied out of order: unknown products, negative stock. With the
// product id as the key, all of a product's events share a partition, and the order holds.

use brook::{
    KeyedStore, Log, LogOptions, Message, PartitionerKind, RecordInput, SystemClock, TopicConfig,
};
use std::collections::BTreeMap;

fn events() -> Vec<(String, String)> {
    let mut events = Vec::new();
    for product in 0..6 {
        let id = format!("product-{product}");
        events.push((id.clone(), format!("new_product {id} 2")));
        events.push((id.clone(), format!("increase_inventory {id} 3")));
        events.push((id.clone(), format!("reduce_inventory {id} 4")));
        events.push((id.clone(), format!("reduce_inventory {id} 1")));
    }
    events
}

fn run(kind: PartitionerKind, label: &str) -> brook::Result<()> {
    let options = LogOptions::new(Box::new(SystemClock), 2024);
    let mut log = Log::open(Box::new(KeyedStore::in_memory()), options)?;
    log.create_topic("inventory", 3, TopicConfig::default())?;
    let mut producer = log.producer(kind);
    for (key, value) in events() {
        // One send per event, as a shop would emit them over time.
        let message = Message {
            record: RecordInput {
                key: Some(key.as_bytes()),
                value: Some(value.as_bytes()),
                ..Default::default()
            },
            partition: None,
        };
        log.send(&mut producer, "inventory", &[message])?;
        log.flush(true)?;
    }

    println!("\n{label}");
    for offsets in log.offsets("inventory")? {
        let records = log.read_records("inventory", offsets.partition, 0, u32::MAX)?;
        let lane: Vec<String> = records
            .iter()
            .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
            .map(|v| v.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect();
        println!(
            "  partition {}: {} records  {}",
            offsets.partition,
            lane.len(),
            lane.join(" | ")
        );
    }

    // Consume: partition p delivers p+1 records per round, so partitions drift apart.
    let mut stock: BTreeMap<String, i64> = BTreeMap::new();
    let mut positions = [0i64; 3];
    let mut problems = Vec::new();
    loop {
        let mut progressed = false;
        for partition in 0..3u32 {
            let records = log.read_records(
                "inventory",
                partition,
                positions[partition as usize],
                partition + 1,
            )?;
            for record in records {
                positions[partition as usize] = record.offset + 1;
                progressed = true;
                let text = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default())
                    .into_owned();
                let parts: Vec<&str> = text.split(' ').collect();
                let (action, id, amount) = (
                    parts[0],
                    parts[1].to_owned(),
                    parts[2].parse::<i64>().unwrap_or(0),
                );
                match (action, stock.get_mut(&id)) {
                    ("new_product", _) => {
                        stock.insert(id, amount);
                    }
                    (_, None) => problems.push(format!("{action} for unknown {id}")),
                    ("increase_inventory", Some(level)) => *level += amount,
                    (_, Some(level)) => {
                        *level -= amount;
                        if *level < 0 {
                            problems.push(format!("{id} stock went negative ({level})"));
                        }
                    }
                }
            }
        }
        if !progressed {
            break;
        }
    }
    println!("  stock: {stock:?}");
    if problems.is_empty() {
        println!("  no problems: every product's events were applied in the order they happened");
    } else {
        println!(
            "  {} problems, e.g.: {}",
            problems.len(),
            problems
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    log.close()
}

fn main() -> brook::Result<()> {
    run(
        PartitionerKind::Random,
        "Random placement (the seed's first attempt):",
    )?;
    run(
        PartitionerKind::Default,
        "Keyed placement (key = product id, Kafka's murmur2):",
    )?;
    Ok(())
}
