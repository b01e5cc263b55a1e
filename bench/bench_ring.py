"""Benchmark: the shared-memory record ring between two processes, against the alternatives.

Throughput: a parent process publishes batches of 64 and 4,096 records (RECORD_SIZE bytes
each) and a spawned child drains them with `read_into` (a copy out, so every record is copied
twice and crosses from one core's cache to the other's), or with `read_batch` views it only
confirms (the zero-copy path: one copy, the consumer's own work left out). The same batches go
through a `multiprocessing.Pipe` (`send_bytes` / `recv_bytes_into`) and a
`multiprocessing.Queue` (pickled arrays). The baseline is one same-process copy of the same
batches into a ring-sized buffer, slot after slot, with memoryview slices (the ring's own
copy); `np.copyto` of uint8 views is shown beside it, and the ring's rate is also given as a
fraction of that. A ring never blocks its writer, so only this benchmark holds the writer back
from lapping the child (the child posts its cursor to a shared counter); idle waits yield the
core, since two spinning processes on two small cores starve whatever else runs.

Latency: the parent stamps `recv_ns` (time.monotonic_ns: one clock for every process on the
machine) into one record and publishes it, either as a copy (`publish`) or in place
(`reserve` + `commit`); the child spins on the publish cursor and reads the clock when it sees
the cursor move, and again when `read_batch` hands it the record (the handoff proper). The
parent sends the next record once the child has acknowledged the last, after a 20 µs pause,
so each record finds the child spinning; parent and child are pinned to one core each here.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench import harness
from bench.harness import Report, Sample
from bot.ring import W_PUBLISH, Lapped, Ring
from chains.records import RECORD_SIZE, empty_records

CAPACITY = 1 << 14  # records: 5.2 MB, the size of a real ingest ring
BATCHES = (64, 4096)
_CTX = multiprocessing.get_context("spawn")

# control words shared with the child: [records consumed by the child, child ready]
_CONSUMED = 0
_READY = 1


def _ring_reader(name: str, max_batch: int, views: bool, control: Any) -> None:
    """Child: drain the ring until the writer closes (copies, or views); post the cursor."""
    ring = Ring.attach(name)
    reader = ring.reader(start="oldest")
    out = empty_records(max_batch)
    ctl = control
    ctl[_READY] = 1
    checksum = 0
    while True:
        got = reader.read_batch(max_batch) if views else reader.read_into(out)
        if isinstance(got, Lapped):
            raise RuntimeError(f"bench writer lapped the reader: {got}")
        if views:
            view, got = got, len(got)  # type: ignore[arg-type]
            if got:
                checksum += int(view["block_number"][-1])  # type: ignore[index]
                if not reader.confirm():
                    raise RuntimeError("bench writer overwrote a view in use")
            del view
        if got:
            ctl[_CONSUMED] = reader.cursor_seq
        elif ring.writer_closed and reader.available() == 0:
            break
        else:
            os.sched_yield()  # 2 small cores: give the writer the core when it shares ours
    del reader, out
    ring.close()


def _queue_reader(queue: multiprocessing.Queue, control: Any) -> None:
    """Child: take pickled batches off the queue until None; post the record count."""
    ctl = control
    ctl[_READY] = 1
    consumed = 0
    while (batch := queue.get()) is not None:
        consumed += len(batch)
        ctl[_CONSUMED] = consumed


def _pipe_reader(conn: Any, control: Any) -> None:
    """Child: receive byte batches into one buffer until an empty message; post the count."""
    ctl = control
    buf = bytearray(4096 * RECORD_SIZE)
    ctl[_READY] = 1
    consumed = 0
    while (n_bytes := conn.recv_bytes_into(buf)) > 0:
        consumed += n_bytes // RECORD_SIZE
        ctl[_CONSUMED] = consumed


def _latency_reader(name: str, latencies: Any, control: Any) -> None:
    """Child: spin for each record; store (cursor seen, view held) - recv_ns; acknowledge."""
    ring = Ring.attach(name)
    reader = ring.reader()
    header = ring.header
    ctl = control
    out = latencies  # [seen_0, held_0, seen_1, held_1, ...]
    clock = time.monotonic_ns
    ctl[_READY] = 1
    i = 0
    while 2 * i < len(out):
        cursor = reader.cursor_seq
        while header[W_PUBLISH] == cursor:  # spin: the wait of wait_for_data("spin"), inlined
            pass
        seen_ns = clock()  # the publish is visible here
        view = reader.read_batch(1)
        held_ns = clock()  # the reader holds the record
        stamp_ns = int(view["recv_ns"][0])  # type: ignore[index]
        if not reader.confirm():
            raise RuntimeError("latency record overwritten")
        out[2 * i] = seen_ns - stamp_ns
        out[2 * i + 1] = held_ns - stamp_ns
        i += 1
        ctl[_CONSUMED] = i
    del reader, view, header
    ring.close()


def _start(target: Callable[..., None], control: Any, *args: object) -> multiprocessing.Process:
    """Start target(*args, control) in a spawned child and wait until it reports ready."""
    child = _CTX.Process(target=target, args=(*args, control), daemon=True)
    child.start()
    ctl = control
    deadline = time.monotonic() + 60
    while not ctl[_READY]:
        if time.monotonic() > deadline or not child.is_alive():
            raise RuntimeError(f"{target.__name__} did not start")
        time.sleep(0.001)
    return child


def _wait_consumed(ctl: Any, total: int, child: multiprocessing.Process) -> None:
    """Yield until the child has consumed total records; raise if it died."""
    while ctl[_CONSUMED] < total:
        _check_alive(child)
        os.sched_yield()


def _check_alive(child: multiprocessing.Process) -> None:
    if not child.is_alive():
        raise RuntimeError(f"bench child exited with {child.exitcode}")


def _batch(n: int) -> np.ndarray:
    records = empty_records(n)
    records["block_number"] = np.arange(n)
    records["tx_hash"] = 7
    return records


def _bench_memcpy(
    batch: np.ndarray, n_batches: int, repeats: int, *, copyto: bool = False
) -> Sample:
    """Copy the batch into a ring-sized buffer, slot after slot: memoryview slices or copyto."""
    dst = np.zeros(CAPACITY * RECORD_SIZE, np.uint8)
    dst_bytes = memoryview(dst)
    src = batch.view(np.uint8)
    src_bytes = memoryview(src)
    n_bytes = src.nbytes
    slots = CAPACITY * RECORD_SIZE // n_bytes
    times: list[float] = []
    for _ in range(repeats + 1):  # the first round warms the pages up
        t0 = time.perf_counter_ns()
        if copyto:
            for i in range(n_batches):
                start = i % slots * n_bytes
                np.copyto(dst[start : start + n_bytes], src)
        else:
            for i in range(n_batches):
                start = i % slots * n_bytes
                dst_bytes[start : start + n_bytes] = src_bytes
        times.append((time.perf_counter_ns() - t0) / n_batches / 1e9)
    return Sample.from_times(times[1:])


def _bench_ring(batch: np.ndarray, n_batches: int, repeats: int, *, views: bool) -> Sample:
    """Stream n_batches through the ring to a child reading copies or views; time per batch."""
    control = _CTX.RawArray("Q", 2)
    ctl = control
    n = len(batch)
    with Ring.create(CAPACITY) as ring:
        writer = ring.writer()
        child = _start(_ring_reader, control, ring.name, n, views)
        limit = CAPACITY - n  # the writer stays a lap minus one batch ahead of the child
        times: list[float] = []
        for _ in range(repeats + 1):
            t0 = time.perf_counter_ns()
            for _ in range(n_batches):
                while writer.seq - ctl[_CONSUMED] > limit:
                    _check_alive(child)
                    os.sched_yield()
                writer.publish(batch)
            _wait_consumed(ctl, writer.seq, child)
            times.append((time.perf_counter_ns() - t0) / n_batches / 1e9)
        writer.close()
        child.join(60)
        del writer
    if child.exitcode != 0:
        raise RuntimeError(f"ring reader exited with {child.exitcode}")
    return Sample.from_times(times[1:])


def _bench_queue(batch: np.ndarray, n_batches: int, repeats: int) -> Sample:
    control = _CTX.RawArray("Q", 2)
    ctl = control
    queue = _CTX.Queue(maxsize=max(2, CAPACITY // len(batch)))
    child = _start(_queue_reader, control, queue)
    times: list[float] = []
    sent = 0
    for _ in range(repeats + 1):
        t0 = time.perf_counter_ns()
        for _ in range(n_batches):
            queue.put(batch)
        sent += n_batches * len(batch)
        _wait_consumed(ctl, sent, child)
        times.append((time.perf_counter_ns() - t0) / n_batches / 1e9)
    queue.put(None)
    child.join(60)
    queue.close()
    return Sample.from_times(times[1:])


def _bench_pipe(batch: np.ndarray, n_batches: int, repeats: int) -> Sample:
    control = _CTX.RawArray("Q", 2)
    ctl = control
    receiver, sender = _CTX.Pipe(duplex=False)
    child = _start(_pipe_reader, control, receiver)
    payload = memoryview(batch).cast("B")
    times: list[float] = []
    sent = 0
    for _ in range(repeats + 1):
        t0 = time.perf_counter_ns()
        for _ in range(n_batches):
            sender.send_bytes(payload)
        sent += n_batches * len(batch)
        _wait_consumed(ctl, sent, child)
        times.append((time.perf_counter_ns() - t0) / n_batches / 1e9)
    sender.send_bytes(b"")
    child.join(60)
    sender.close()
    receiver.close()
    return Sample.from_times(times[1:])


def _bench_latency(n_records: int, *, gap_ns: int, zero_copy: bool) -> tuple[Sample, Sample]:
    """Hand single records to a spinning child: publish() a copy, or reserve() + commit()."""
    control = _CTX.RawArray("Q", 2)
    ctl = control
    latencies = _CTX.RawArray("q", 2 * n_records)
    with Ring.create(CAPACITY) as ring:
        writer = ring.writer()
        child = _start(_latency_reader, control, ring.name, latencies)
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2:  # one core each, so the spinning child never waits for the writer
            os.sched_setaffinity(0, cpus[:1])
            os.sched_setaffinity(child.pid, cpus[1:2])  # type: ignore[arg-type]
        record = empty_records(1)
        clock = time.monotonic_ns
        for i in range(n_records):
            # zero copy: stamp the ring's slot in place; else stamp a batch and publish a copy
            stamps = writer.reserve(1)["recv_ns"] if zero_copy else record["recv_ns"]
            resume_ns = clock() + gap_ns
            while clock() < resume_ns:
                pass
            stamps[0] = clock()
            if zero_copy:
                writer.commit(1)
            else:
                writer.publish(record)
            spins = 0
            while ctl[_CONSUMED] <= i:
                spins += 1
                if spins % 100_000 == 0:
                    _check_alive(child)
        child.join(60)
        os.sched_setaffinity(0, cpus)
        del writer, stamps
    if child.exitcode != 0:
        raise RuntimeError(f"latency reader exited with {child.exitcode}")
    values_s = np.frombuffer(latencies, np.int64).reshape(n_records, 2)[n_records // 10 :] / 1e9
    return Sample.from_times(values_s[:, 0].tolist()), Sample.from_times(values_s[:, 1].tolist())


def run(report: Report) -> None:
    repeats = report.pick(7, 3)
    total_records = report.pick(1 << 20, 1 << 17)
    for n in BATCHES:
        batch = _batch(n)
        n_batches = max(total_records // n, 4)
        gb = n * RECORD_SIZE / 1e9
        memcpy = f"memcpy, same process, batch {n}"
        report.add(
            memcpy,
            _bench_memcpy(batch, n_batches, repeats),
            work_per_call=n,
            work_unit="records",
            note="memoryview slice copy (the ring's): the ceiling",
        )
        copyto_sample = _bench_memcpy(batch, n_batches, repeats, copyto=True)
        report.add(
            f"np.copyto, same process, batch {n}",
            copyto_sample,
            baseline=memcpy,
            work_per_call=n,
            work_unit="records",
            note="uint8 views",
        )
        ring_sample = _bench_ring(batch, n_batches, repeats, views=False)
        report.add(
            f"ring, 2 processes, batch {n}",
            ring_sample,
            baseline=memcpy,
            work_per_call=n,
            work_unit="records",
            note="publish + read_into (2 copies)",
        )
        views_sample = _bench_ring(batch, n_batches, repeats, views=True)
        report.add(
            f"ring, 2 processes, views, batch {n}",
            views_sample,
            baseline=memcpy,
            work_per_call=n,
            work_unit="records",
            note="publish + read_batch, one field read, confirm (no copy)",
        )
        report.add(
            f"Pipe send_bytes, batch {n}",
            _bench_pipe(batch, n_batches, repeats),
            baseline=memcpy,
            work_per_call=n,
            work_unit="records",
        )
        report.add(
            f"Queue, batch {n}",
            _bench_queue(batch, max(n_batches // 4, 4), repeats),
            baseline=memcpy,
            work_per_call=n,
            work_unit="records",
            note="pickled arrays",
        )
        for how, sample in (("read_into", ring_sample), ("views", views_sample)):
            report.add_value(f"ring {how} GB/s, batch {n} (median)", gb / sample.median_s, "GB/s")
            report.add_value(
                f"ring {how} rate / np.copyto rate, batch {n} (median)",
                copyto_sample.median_s / sample.median_s,
                "×",
            )
    n_records = report.pick(50_000, 5_000)
    for zero_copy, how in ((False, "publish"), (True, "reserve/commit")):
        seen, held = _bench_latency(n_records, gap_ns=20_000, zero_copy=zero_copy)
        for what, sample in (("view held", held), ("cursor seen", seen)):
            name = f"handoff latency, {how}, {what}"
            report.add(name, sample, note="1 record, spinning reader in another process")
            for p in (50, 99, 99.9):
                report.add_value(f"{name} p{p:g}", sample.percentile(p), "s")


if __name__ == "__main__":
    harness.main(run)
