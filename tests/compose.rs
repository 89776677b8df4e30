//! docker-compose.yml cannot be started here (no Docker engine), so this
//! checks its structure: three KRaft brokers that can lose one without
//! losing acknowledged writes, reachable only on loopback.

use serde_yaml::Value;

fn compose() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml"))
        .expect("docker-compose.yml at the repository root");
    let mut doc: Value = serde_yaml::from_str(&text).expect("docker-compose.yml is valid YAML");
    doc.apply_merge().expect("merge keys resolve");
    doc
}

fn env<'a>(service: &'a Value, key: &str) -> &'a str {
    service["environment"][key]
        .as_str()
        .unwrap_or_else(|| panic!("environment key {key} is a string"))
}

#[test]
fn three_kraft_brokers_with_rf3_and_min_isr2() {
    let doc = compose();
    let services = doc["services"].as_mapping().expect("services");
    assert_eq!(services.len(), 3);
    assert!(doc["x-kafka"].is_mapping(), "shared broker settings");
    let mut node_ids = Vec::new();
    for (name, service) in services {
        let name = name.as_str().unwrap();
        assert!(
            service["image"]
                .as_str()
                .unwrap()
                .starts_with("apache/kafka:"),
            "{name}"
        );
        assert_eq!(
            env(service, "KAFKA_PROCESS_ROLES"),
            "broker,controller",
            "{name}"
        );
        assert_eq!(
            env(service, "KAFKA_DEFAULT_REPLICATION_FACTOR"),
            "3",
            "{name}"
        );
        assert_eq!(env(service, "KAFKA_MIN_INSYNC_REPLICAS"), "2", "{name}");
        let voters = env(service, "KAFKA_CONTROLLER_QUORUM_VOTERS");
        assert_eq!(
            voters.split(',').count(),
            3,
            "{name}: three controller voters"
        );
        node_ids.push(env(service, "KAFKA_NODE_ID").to_string());
        let advertised = env(service, "KAFKA_ADVERTISED_LISTENERS");
        let external = advertised
            .split(',')
            .find(|l| l.starts_with("EXTERNAL://"))
            .unwrap();
        assert!(
            external.starts_with("EXTERNAL://127.0.0.1:"),
            "{name}: loopback only"
        );
        for port in service["ports"].as_sequence().unwrap() {
            assert!(
                port.as_str().unwrap().starts_with("127.0.0.1:"),
                "{name}: loopback only"
            );
        }
    }
    node_ids.sort();
    assert_eq!(node_ids, ["1", "2", "3"]);
}

#[test]
fn cluster_id_is_a_base64_uuid() {
    let doc = compose();
    for (_, service) in doc["services"].as_mapping().unwrap() {
        let id = env(service, "CLUSTER_ID");
        assert_eq!(
            id.len(),
            22,
            "KRaft cluster ids are 16 bytes in URL-safe base64"
        );
    }
}
