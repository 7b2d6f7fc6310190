"""Assembling an escalation packet of 200 images totalling 500 MB: time and peak memory, beside
simply copying the same files.

Builds a throwaway Vigil in a temporary directory (SQLite and private media under VIGIL_VAR_DIR;
the database is not what is measured), with one escalated case whose content has `--images`
noise PNGs (valid images, incompressible like real photos) totalling `--megabytes`, Media rows
created directly with their hashes, approved. Then, each in a fresh process so that its peak
resident memory (ru_maxrss) is its own, `--rounds` times in turn:

- assembly: `moderation.escalations.packet.escalation_assemble`, as the RQ job runs it (report and fileDetails
  XML validated against the schema, every evidence file checked against its SHA-256, the zip
  streamed to storage and hashed, the escalation marked ready);
- copy: `shutil.copyfileobj` of the same files into a directory, and the same with an fsync of
  each copy (the packet is fsynced before it is moved into place).

Prints the medians and the ratios (each round runs the three in another order); the temporary directory is removed afterwards.

    .venv/bin/python bench/packet.py [--images 200 --megabytes 500 --rounds 3]
"""

import argparse
import hashlib
import io
import json
import os
import platform
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reports.content import ContentFacts

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def cpu_seconds() -> float:
    """User + system time of this process, all its threads: what the work costs in CPU, which
    other agents' load on the machine changes much less than the elapsed time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def django_setup() -> None:
    import django

    django.setup()


# --- child processes ------------------------------------------------------------------------


def child_setup(images: int, megabytes: int) -> dict:
    import numpy as np
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone
    from PIL import Image

    call_command("migrate", verbosity=0)
    from accounts.models import QueueCertification, User
    from accounts.roles import Role
    from moderation.cases.models import Queue
    from moderation.cases.services import case_claim_next
    from moderation.escalations.models import Escalation
    from moderation.escalations.services import (
        escalation_request_approval,
        escalation_update_details,
    )
    from moderation.review.services import case_decide
    from reports.models import Media, Report
    from reports.services import report_submit

    now = timezone.now()

    def user(name, role):
        u = User.objects.create_user(username=name, password=secrets.token_urlsafe(12))
        u.groups.add(Group.objects.get(name=role.value))
        for queue in Queue.objects.all():
            QueueCertification.objects.create(
                user=u, queue=queue, granted_at=now, expires_at=now + timezone.timedelta(days=30)
            )
        return u

    reviewer, senior = user("bench-reviewer", Role.REVIEWER), user("bench-senior", Role.SUPERVISOR)
    report = report_submit(
        category="csam",
        reporter_kind=Report.ReporterKind.PUBLIC,
        source=Report.Source.FORM,
        content=ContentFacts(
            url="https://social.example/p/bench",
            platform_id="bench-post",
            type="image",
            owner_id="bench-account",
            owner_handle="bench_handle",
        ),
    )
    case = case_claim_next(user=reviewer)
    assert case.pk == report.case_id
    case_decide(
        case_id=case.pk,
        user=reviewer,
        action="escalate",
        policy="child safety",
        classification="A1",
        intent="malicious",
        notes="Benchmark.",
    )

    # Noise PNGs stored without compression: valid images whose bytes do not compress, like
    # photos; side chosen so that the files add up to the requested total.
    side = int(((megabytes * 1024 * 1024 / images) / 3) ** 0.5)
    rng = np.random.default_rng(6)
    media_root = Path(os.environ["PRIVATE_MEDIA_ROOT"])
    total = 0
    for n in range(images):
        pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        out = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(out, format="PNG", compress_level=0)
        data = out.getvalue()
        sha256 = hashlib.sha256(data).hexdigest()
        name = f"media/{sha256[:2]}/{sha256[2:4]}/{sha256}"
        (media_root / name).parent.mkdir(parents=True, exist_ok=True)
        (media_root / name).write_bytes(data)
        Media.objects.create(
            content_item=report.content_item,
            report=report,
            file=name,
            original_filename=f"upload-{n}.png",
            mime="image/png",
            size=len(data),
            width=side,
            height=side,
            sha256=sha256,
            md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            hashed_at=now,
            created_at=now,
        )
        total += len(data)

    escalation = Escalation.objects.get()
    escalation_update_details(
        escalation_id=escalation.pk,
        user=reviewer,
        incident_type=Escalation.IncidentType.values[0],
        incident_summary="Benchmark escalation: noise images standing in for evidence.",
        annotations=[],
        urgent=False,
        urgent_reason="",
    )
    escalation_request_approval(escalation_id=escalation.pk, user=reviewer)
    # Approved without queueing the job (escalation_approve would run it in-process here).
    with transaction.atomic():
        Escalation.objects.filter(pk=escalation.pk).update(
            status="assembling", approved_by=senior, approved_at=timezone.now()
        )
    return {"escalation": escalation.pk, "files": images, "bytes": total, "side": side}


def child_assemble(escalation_id: int) -> dict:
    from django.core.files.storage import default_storage

    from moderation.escalations.models import Escalation
    from moderation.escalations.packet import escalation_assemble

    # A previous round's packet goes; the evidence snapshot (EscalationFile rows) stays.
    escalation = Escalation.objects.get(pk=escalation_id)
    if escalation.packet:
        default_storage.delete(escalation.packet.name)
    Escalation.objects.filter(pk=escalation_id).update(status="assembling", packet_sha256="")
    baseline = peak_mb()
    cpu, started = cpu_seconds(), time.perf_counter()
    escalation_assemble(escalation_id=escalation_id)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    escalation.refresh_from_db()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "load": os.getloadavg()[0],
        "peak_mb": peak_mb(),
        "baseline_mb": baseline,
        "status": escalation.status,
        "failure": escalation.failure_reason,
        "sha256": escalation.packet_sha256,
        "size": escalation.packet_size,
    }


def child_copy(escalation_id: int, target: str, fsync: bool) -> dict:
    from django.core.files.storage import default_storage

    from reports.models import Media

    sources = [
        default_storage.path(m.file.name)
        for m in Media.objects.filter(content_item__cases__escalations=escalation_id).order_by("pk")
    ]
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    baseline = peak_mb()
    cpu, started = cpu_seconds(), time.perf_counter()
    copied = 0
    for n, source in enumerate(sources):
        with open(source, "rb") as src, open(f"{target}/{n:04d}", "wb") as dst:
            shutil.copyfileobj(src, dst)
            copied += dst.tell()
            if fsync:
                dst.flush()
                os.fsync(dst.fileno())
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return {
        "seconds": seconds,
        "cpu": cpu,
        "load": os.getloadavg()[0],
        "peak_mb": peak_mb(),
        "baseline_mb": baseline,
        "bytes": copied,
    }


# --- the driver -----------------------------------------------------------------------------


def run(env: dict, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--megabytes", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        django_setup()
        mode, *rest = args.child
        if mode == "setup":
            result = child_setup(int(rest[0]), int(rest[1]))
        elif mode == "assemble":
            result = child_assemble(int(rest[0]))
        else:
            result = child_copy(int(rest[0]), rest[1], fsync=mode == "copy-fsync")
        print(json.dumps(result))
        return

    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-packet-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        VIGIL_VAR_DIR=str(tmp),
        PRIVATE_MEDIA_ROOT=str(tmp / "private-media"),
    )
    try:
        started = time.perf_counter()
        made = run(env, "setup", str(args.images), str(args.megabytes))
        print(
            f"{made['files']} noise PNGs of {made['side']}x{made['side']}, "
            f"{made['bytes'] / 2**20:.0f} MiB in all (made in {time.perf_counter() - started:.0f} s)"
        )
        pk, target = str(made["escalation"]), str(tmp / "copies")
        run(env, "copy", pk, target)  # warm-up: every run then reads from the page cache alike
        rounds = {"assemble": [], "copy": [], "copy-fsync": []}
        modes = list(rounds)
        for n in range(args.rounds):
            # Each round in another order: writeback of one run's output disturbs the next.
            for mode in modes[n % 3 :] + modes[: n % 3]:
                extra = [] if mode == "assemble" else [target]
                rounds[mode].append(run(env, mode, pk, *extra))
                shutil.rmtree(target, ignore_errors=True)
        assembled = rounds["assemble"]
        if any(r["status"] != "ready" for r in assembled):
            raise SystemExit(f"assembly did not finish: {assembled[-1]['failure']}")
        hashes = {r["sha256"] for r in assembled}

        def med(mode, key):
            return statistics.median(r[key] for r in rounds[mode])

        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
        )
        print(f"packet: {assembled[0]['size'] / 2**20:.1f} MiB, sha256 {assembled[0]['sha256']}")
        print(f"identical packet every round: {len(hashes) == 1} ({args.rounds} rounds)")
        print(
            f"{'':22}{'median s':>10}{'min s':>8}{'MiB/s':>8}{'CPU s':>7}{'peak RSS MiB':>14}"
            f"{'before MiB':>12}"
        )
        mib = made["bytes"] / 2**20
        for mode, label in (
            ("assemble", "assembly"),
            ("copy", "copyfileobj"),
            ("copy-fsync", "copyfileobj + fsync"),
        ):
            s = med(mode, "seconds")
            fastest = min(r["seconds"] for r in rounds[mode])
            print(
                f"{label:22}{s:10.2f}{fastest:8.2f}{mib / s:8.0f}{med(mode, 'cpu'):7.2f}"
                f"{med(mode, 'peak_mb'):14.0f}{med(mode, 'baseline_mb'):12.0f}"
            )
        for mode in rounds:
            each = ", ".join(f"{r['seconds']:.2f} (load {r['load']:.1f})" for r in rounds[mode])
            print(f"  {mode} rounds: {each}")
        a = med("assemble", "seconds")
        print(f"assembly / copy (medians): {a / med('copy', 'seconds'):.2f}x")
        print(f"assembly / copy + fsync (medians): {a / med('copy-fsync', 'seconds'):.2f}x")
        print(
            f"targets: peak memory < 150 MB: {max(r['peak_mb'] for r in assembled) < 150}; "
            f"time within 2x of a durable copy (copy + fsync, as the packet is): "
            f"{a / med('copy-fsync', 'seconds') <= 2}; of a page-cache copy: "
            f"{a / med('copy', 'seconds') <= 2}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
