"""A result of several hundred MB streams through with bounded gateway memory."""
import psycopg


def test_large_result_bounded_rss(pg, gateway):
    rows = 0
    total = 0
    with psycopg.connect(gateway.dsn()) as conn:
        with conn.cursor() as cur:
            # Single-row mode: the client does not buffer either.
            for (body,) in cur.stream("select repeat(md5(g::text), 64) from "
                                      "generate_series(1, 150000) g"):
                rows += 1
                total += len(body)
    assert rows == 150000
    assert total == 150000 * 2048  # ~300 MB of text rows
    peak_mb = gateway.peak_rss_kb() / 1024
    print(f"gateway peak RSS after {total / 1e6:.0f} MB: {peak_mb:.1f} MB")
    assert peak_mb < 64, f"gateway peak RSS {peak_mb:.1f} MB"


def test_single_large_value(pg, gateway):
    with psycopg.connect(gateway.dsn()) as conn:
        (v,) = conn.execute("select repeat('x', 20 * 1024 * 1024)").fetchone()
        assert len(v) == 20 * 1024 * 1024
