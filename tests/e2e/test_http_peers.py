"""The HTTP test peers on their own, without the gateway: the vector store (Qdrant REST subset)
with the official Qdrant JS client, its api key, gzip, TLS and streaming endpoints, json-server,
and server-everything over Streamable HTTP; plus the sample data's agreement with the SQL demo."""
import gzip
import http.client
import json
import re
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import zlib

from embed import embed
from http_peers import KB, PEERS, ROOT, DOCS_DB, VectorStore, run_qdrant_client

SCHEMA = ROOT / "examples" / "kb" / "schema.sql"


def request(method, url, body=None, headers=None, context=None):
    """(status, headers, raw body bytes) of one request; HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as res:
            return res.status, res.headers, res.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def result_of(method, url, body=None):
    status, _, raw = request(method, url, body)
    assert status == 200, raw
    reply = json.loads(raw)
    assert reply["status"] == "ok" and isinstance(reply["time"], float)
    return reply["result"]


def client_json(*args, **kw):
    rc, out, err = run_qdrant_client(*args, **kw)
    assert rc == 0, err
    return json.loads(out)


# -- the official client against the vector store -------------------------------------------------

def test_js_client_search_ranks_the_refund_policy_first_and_returns_payloads(vector_store):
    hits = client_json(vector_store, None, "search", "--collection", "docs", "--text",
                       "refund policy", "--limit", "2")
    assert [h["id"] for h in hits] == [1, 2]
    assert hits[0]["score"] > hits[1]["score"]
    assert hits[0]["payload"]["doc_id"] == 1
    assert "billing@acme.example" in hits[0]["payload"]["text"]


def test_js_client_query_api_finds_what_search_finds(vector_store):
    args = ("--collection", "docs", "--text", "globex card", "--limit", "3")
    searched = client_json(vector_store, None, "search", *args)
    queried = client_json(vector_store, None, "query", *args)["points"]
    assert [p["id"] for p in queried] == [p["id"] for p in searched]
    assert queried[0]["id"] == 3 and "4111 1111 1111 1111" in queried[0]["payload"]["text"]


def test_js_client_retrieves_points_by_their_sql_document_ids(vector_store):
    points = client_json(vector_store, None, "retrieve", "--collection", "docs", "--ids", "3,1")
    assert sorted(p["payload"]["doc_id"] for p in points) == [1, 3]
    assert all(p["id"] == p["payload"]["doc_id"] for p in points)


def test_js_client_lists_the_docs_and_protected_collections(vector_store):
    names = {c["name"] for c in client_json(vector_store, None, "collections")["collections"]}
    assert names == {"docs", "protected"}


def test_js_client_search_with_a_payload_filter_keeps_only_matching_points(vector_store):
    flt = json.dumps({"must": [{"key": "doc_id", "match": {"value": 4}}]})
    hits = client_json(vector_store, None, "search", "--text", "refund", "--filter", flt)
    assert [h["id"] for h in hits] == [4]


def test_js_client_keeps_the_url_path_as_a_prefix(vector_store):
    rc, _, err = run_qdrant_client(vector_store + "/kb-search", None, "search", "--text", "x")
    assert rc == 2
    assert "HTTP 404" in err and "/kb-search/collections/docs/points/search" in err


def test_js_client_reports_an_unknown_collection_as_http_404_exit_2(vector_store):
    rc, out, err = run_qdrant_client(vector_store, None, "search", "--collection", "nope",
                                     "--text", "x")
    assert (rc, out) == (2, "")
    assert "HTTP 404" in err and "Collection `nope` doesn't exist" in err


def test_locked_store_refuses_the_js_client_without_its_api_key(vector_store_locked):
    vs = vector_store_locked
    rc, _, err = run_qdrant_client(vs.url, "wrong-key", "collections", ca=vs.ca)
    assert rc == 2 and "HTTP 401" in err
    rc, _, err = run_qdrant_client(vs.url, None, "collections", ca=vs.ca)
    assert rc == 2 and "HTTP 401" in err


def test_locked_store_answers_the_js_client_over_tls_with_its_api_key(vector_store_locked):
    vs = vector_store_locked
    hits = client_json(vs.url, vs.api_key, "search", "--text", "refund policy", "--limit", "1",
                       ca=vs.ca)
    assert hits[0]["payload"]["doc_id"] == 1
    # Node's fetch asks for gzip and inflates it: the client read a compressed response.
    assert "POST /collections/docs/points/search 200 gzip" in vs.log_text()


def test_js_client_without_the_ca_fails_on_the_self_signed_certificate(vector_store_locked):
    rc, _, err = run_qdrant_client(vector_store_locked.url, vector_store_locked.api_key,
                                   "collections")
    assert rc == 1 and "self-signed certificate" in err


def test_locked_store_gzips_only_when_the_client_accepts_gzip(vector_store_locked):
    vs = vector_store_locked
    tls = ssl.create_default_context(cafile=str(vs.ca))
    key = {"api-key": vs.api_key}
    status, headers, raw = request("GET", vs.url + "/collections/docs", None,
                                   {**key, "Accept-Encoding": "gzip"}, tls)
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(raw))["result"]["points_count"] == 4
    status, headers, raw = request("GET", vs.url + "/collections/docs", None, key, tls)
    assert status == 200 and headers["Content-Encoding"] is None
    assert json.loads(raw)["result"]["points_count"] == 4


# -- the Qdrant REST subset directly ---------------------------------------------------------------

def test_collection_lifecycle_create_upsert_search_scroll_delete():
    with VectorStore(data=None) as vs:
        base = vs.url + "/collections/scratch"
        assert result_of("PUT", base, {"vectors": {"size": 32, "distance": "Cosine"}}) is True
        points = [{"id": i, "vector": embed(t), "payload": {"text": t, "n": i}}
                  for i, t in enumerate(["red apple", "blue whale", "red boat"], start=1)]
        status, _, raw = request("PUT", base + "/points?wait=true", {"points": points})
        assert status == 200 and json.loads(raw)["result"]["status"] == "completed"
        hits = result_of("POST", base + "/points/search",
                         {"vector": embed("red"), "limit": 2, "with_payload": True})
        assert sorted(h["id"] for h in hits) == [1, 3]
        page = result_of("POST", base + "/points/scroll", {"limit": 2})
        assert [p["id"] for p in page["points"]] == [1, 2] and page["next_page_offset"] == 3
        texts = result_of("POST", base + "/points/scroll",
                          {"filter": {"must": [{"key": "text", "match": {"text": "red boat"}}]}})
        assert [p["id"] for p in texts["points"]] == [3]
        again = {"points": [{"id": 3, "vector": embed("blue sky"), "payload": {"text": "blue"}}]}
        assert request("PUT", base + "/points", again)[0] == 200
        hits = result_of("POST", base + "/points/search", {"vector": embed("red"), "limit": 3})
        assert [h["id"] for h in hits][0] == 1 and hits[-1]["score"] == 0
        assert result_of("POST", base + "/points", {"ids": [3]})[0]["payload"] == {"text": "blue"}
        assert result_of("DELETE", base) is True
        status, _, raw = request("GET", base)
        assert status == 404 and "doesn't exist" in json.loads(raw)["status"]["error"]


def test_search_with_a_vector_of_the_wrong_size_is_a_400(vector_store):
    status, _, raw = request("POST", vector_store + "/collections/docs/points/search",
                             {"vector": [1.0, 0.0], "limit": 1})
    assert status == 400 and "expected dim: 32, got 2" in json.loads(raw)["status"]["error"]


def stream_lines(url, headers=None, decompress=False):
    """[(seconds since the response started, line)] of a streamed response, as read."""
    parsed = urllib.request.urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    conn.request("GET", parsed.path + "?" + parsed.query, headers=dict(headers or {}))
    res = conn.getresponse()
    assert res.status == 200
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if decompress else None
    started, lines, pending = time.monotonic(), [], b""
    while chunk := res.read1(65536):
        pending += inflate.decompress(chunk) if inflate else chunk
        *complete, pending = pending.split(b"\n")
        lines += [(time.monotonic() - started, line.decode()) for line in complete]
    conn.close()
    return res.headers, lines


def test_ndjson_export_streams_one_point_per_line_with_delays(vector_store):
    headers, lines = stream_lines(vector_store + "/collections/docs/points/export?delay_ms=150")
    assert headers["Content-Type"] == "application/x-ndjson"
    assert [json.loads(line)["id"] for _, line in lines] == [1, 2, 3, 4]
    assert lines[-1][0] - lines[0][0] >= 0.3, "the lines arrived together, not streamed"


def test_sse_events_stream_one_event_per_point_then_an_end_event(vector_store):
    headers, lines = stream_lines(vector_store + "/collections/protected/events?delay_ms=100")
    assert headers["Content-Type"] == "text/event-stream"
    events = "\n".join(line for _, line in lines).strip().split("\n\n")
    kinds = [re.search(r"^event: (\w+)$", e, re.M).group(1) for e in events]
    assert kinds == ["point", "point", "point", "end"]
    data = [json.loads(re.search(r"^data: (.*)$", e, re.M).group(1)) for e in events]
    assert data[0]["payload"]["card"] == "4111 1111 1111 1111"
    assert data[-1] == {"count": 3}
    times = [t for t, line in lines if line.startswith("data: ")]
    assert times[-1] - times[0] >= 0.2


def test_gzip_ndjson_export_can_be_inflated_line_by_line_as_it_arrives():
    with VectorStore(gzip=True, stream_delay_ms=150) as vs:
        headers, lines = stream_lines(vs.url + "/collections/docs/points/export",
                                      {"Accept-Encoding": "gzip"}, decompress=True)
    assert headers["Content-Encoding"] == "gzip"
    assert [json.loads(line)["id"] for _, line in lines] == [1, 2, 3, 4]
    assert lines[-1][0] - lines[0][0] >= 0.3


# -- json-server and server-everything -------------------------------------------------------------

def test_json_server_lists_the_sample_documents_with_their_pii(json_server):
    status, _, raw = request("GET", json_server + "/documents")
    docs = json.loads(raw)
    assert status == 200 and [d["id"] for d in docs] == [1, 2, 3, 4]
    assert "jane.roe@acme.example" in docs[1]["body"]
    status, _, raw = request("GET", json_server + "/customers/2")
    assert json.loads(raw)["card"] == "5500 0000 0000 0004"


def test_mcp_everything_answers_initialize_over_streamable_http_with_sse(mcp_everything):
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-03-26", "capabilities": {},
                       "clientInfo": {"name": "jitgate-tests", "version": "0"}}}
    status, headers, raw = request("POST", mcp_everything, body,
                                   {"Accept": "application/json, text/event-stream"})
    assert status == 200, raw
    assert headers["Content-Type"].startswith("text/event-stream")
    assert headers["mcp-session-id"]
    data = [json.loads(line[5:]) for line in raw.decode().splitlines()
            if line.startswith("data:")]
    assert data[0]["id"] == 1 and data[0]["result"]["serverInfo"]["name"]
    assert "tools" in data[0]["result"]["capabilities"]


# -- the sample data -------------------------------------------------------------------------------

def test_kb_vectors_are_what_the_python_embedder_computes():
    kb = json.loads(KB.read_text())
    for point in kb["collections"]["docs"]["points"]:
        p = point["payload"]
        assert point["vector"] == embed(p["title"] + "\n" + p["text"]), point["id"]
    for point in kb["collections"]["protected"]["points"]:
        p = point["payload"]
        assert point["vector"] == embed(p["name"] + "\n" + p["notes"]), point["id"]


def test_node_and_python_embedders_agree_on_awkward_texts():
    texts = ["", "   ", "Ünïcode straße 42", "a" * 300, "AKIAIOSFODNN7EXAMPLE; +1 415 555 0132"]
    script = ("import { embed } from './tests/peers/embed.mjs';"
              f"console.log(JSON.stringify({json.dumps(texts)}.map(embed)));")
    out = subprocess.run(["node", "--input-type=module", "-e", script], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    assert json.loads(out) == [embed(t) for t in texts]


def test_sample_data_is_generated_from_the_sql_demo_schema():
    r = subprocess.run(["node", str(PEERS / "make_kb.mjs"), "--check"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    titles = re.findall(r"\((\d+), '([^']*)', '[^']*', '[^']*'\)", SCHEMA.read_text())
    docs = json.loads(DOCS_DB.read_text())["documents"]
    assert [(str(d["doc_id"]), d["title"]) for d in docs] == titles
