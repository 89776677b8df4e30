#!/usr/bin/env python3
"""Cross-check watchload's producer with an independent Kafka client.

kafka-python implements the Kafka protocol on its own (it does not use
librdkafka), so it confirms that a topic holds what watchload's producer says
it acked, without trusting watchload's own reader.

Reads TOPIC from the beginning to its end (past the high watermarks found at
start, until a poll comes back empty), keeps
the records whose `watchload.run_id` header is RUN_ID, and compares them with
DELIVERIES (the `deliveries.jsonl` watchload writes: one JSON object per
record, `{"record":0,"outcome":"acked","partition":2,"offset":17}`):

- every acked record must be in the topic, at its acked partition and offset;
- no failed record may be in the topic;
- indeterminate records are counted as present or absent, not judged.

Usage:
    python3 tests/kafka_python_check.py --bootstrap 127.0.0.1:9092 \
        --topic watchload.events --run-id RUN --deliveries deliveries.jsonl

Exit status: 0 the topic agrees, 1 it does not, 2 error (bad input, no
broker, kafka-python missing: `pip install kafka-python`).
"""

import argparse
import json
import sys
import time

RUN_ID = "watchload.run_id"
RECORD = "watchload.record"


def load_deliveries(path):
    """Outcomes by record number, from deliveries.jsonl."""
    deliveries = {}
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                entry = json.loads(line)
                deliveries[int(entry["record"])] = entry
            except (ValueError, KeyError, TypeError) as err:
                raise SystemExit(f"{path}:{number}: not a delivery line ({err})") from err
    return deliveries


def read_topic(bootstrap, topic, run_id, deadline_s):
    """Positions (partition, offset) of each record of the run, by number."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=[server.strip() for server in bootstrap.split(",")],
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="watchload-kafka-python-check",
    )
    until = time.monotonic() + deadline_s
    partitions = None
    while partitions is None and time.monotonic() < until:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            time.sleep(0.2)
    if not partitions:
        raise SystemExit(f"topic {topic} not found on {bootstrap}")
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    consumer.seek_to_beginning(*assigned)
    ends = consumer.end_offsets(assigned)

    found = {}
    foreign = 0
    # kafka-python reports no end of partition, so the read ends when every
    # position is past the high watermark found at start and a poll comes
    # back empty. Records past that watermark are read too: Tansu 0.6
    # reports a high watermark below the last offset.
    pending = True
    while pending and time.monotonic() < until:
        batches = consumer.poll(timeout_ms=1000)
        for tp, messages in batches.items():
            for message in messages:
                headers = dict(message.headers or [])
                if headers.get(RUN_ID, b"").decode("utf-8", "replace") != run_id:
                    foreign += 1
                    continue
                number = int(headers[RECORD].decode("ascii"))
                found.setdefault(number, []).append((message.partition, message.offset))
        behind = [tp for tp in assigned if consumer.position(tp) < ends[tp]]
        pending = bool(batches) or bool(behind)
    consumer.close()
    if pending:
        raise SystemExit(f"read of {topic} ran out of time after {deadline_s} s")
    return found, foreign


def compare(deliveries, found):
    """Problems (sentences) and counts."""
    problems = []
    counts = {"acked": 0, "failed": 0, "indeterminate_present": 0, "indeterminate_absent": 0}
    for number, entry in sorted(deliveries.items()):
        outcome = entry["outcome"]
        positions = found.get(number, [])
        if outcome == "acked":
            counts["acked"] += 1
            acked_at = (entry["partition"], entry["offset"])
            if acked_at not in positions:
                where = positions or "nowhere"
                problems.append(f"record {number} acked at {acked_at} but found {where}")
        elif outcome == "failed":
            counts["failed"] += 1
            if positions:
                problems.append(f"record {number} failed but found at {positions}")
        elif outcome == "indeterminate":
            key = "indeterminate_present" if positions else "indeterminate_absent"
            counts[key] += 1
        else:
            problems.append(f"record {number}: unknown outcome {outcome!r}")
        if len(positions) > 1:
            problems.append(f"record {number} is in the topic {len(positions)} times: {positions}")
    unknown = sorted(set(found) - set(deliveries))
    if unknown:
        problems.append(f"{len(unknown)} records of the run were never issued, e.g. {unknown[:5]}")
    return problems, counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True, help="host:port of a broker")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--deliveries", required=True, help="deliveries.jsonl of the run")
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds for the read")
    args = parser.parse_args()

    try:
        import kafka  # noqa: F401
    except ImportError:
        print("kafka-python is not installed: pip install kafka-python", file=sys.stderr)
        return 2
    try:
        deliveries = load_deliveries(args.deliveries)
        found, foreign = read_topic(args.bootstrap, args.topic, args.run_id, args.deadline)
    except SystemExit as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # a broken broker connection, say
        print(f"error: reading {args.topic} on {args.bootstrap}: {err!r}", file=sys.stderr)
        return 2

    problems, counts = compare(deliveries, found)
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    print(f"kafka-python read {sum(map(len, found.values()))} records of run {args.run_id} "
          f"({foreign} foreign) from {args.topic}: {summary}")
    for problem in problems[:20]:
        print(f"MISMATCH: {problem}")
    if len(problems) > 20:
        print(f"... and {len(problems) - 20} more")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
