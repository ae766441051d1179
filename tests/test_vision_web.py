"""Photos from the web, as the course's notebook gets them: search, download, verify_images. The search is stood in
for; the downloads and checks run for real against a local HTTP server on 127.0.0.1 (as tests/test_download.py
does): good photos are kept, everything else is left out with a reason, and nothing is fetched from a private
address unless a test allows it."""
import http.server
import io
import socket
import threading
import time

import pytest
from PIL import Image

from core.vision import web
from core.vision.data import bundle_classes, load_zip


def jpeg(color, size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG")
    return buf.getvalue()


class FakeWeb:
    """/img/<name> serves a file, /big claims 50 MB, /slow trickles, /gone is 404, /hop redirects to /img/red.jpg."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.startswith("/img/") and self.path[5:] in server.files:
                    data = server.files[self.path[5:]]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif self.path == "/big":
                    self.send_response(200)
                    self.send_header("Content-Length", str(50 * 2**20))
                    self.end_headers()
                    self.wfile.write(b"\xff\xd8" + b"\0" * 1000)
                elif self.path == "/slow":
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(40):
                        self.wfile.write(b"\0")
                        self.wfile.flush()
                        time.sleep(0.1)
                elif self.path == "/hop":
                    self.send_response(302)
                    self.send_header("Location", f"{server.url}/img/red.jpg")
                    self.end_headers()
                elif self.path == "/cut":
                    data = server.files["red.jpg"]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                else:
                    self.send_error(404)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.handle_error = lambda request, address: None          # a client that hung up on /slow
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site():
    s = FakeWeb({"red.jpg": jpeg((250, 0, 0)), "blue.png": _png((0, 0, 250)), "fake.jpg": b"<html>not a photo",
                 "truncated.jpg": jpeg((0, 250, 0), (300, 300))[:400]})
    yield s
    s.close()


def _png(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), color).save(buf, format="PNG")
    return buf.getvalue()


def test_downloads_are_verified_and_the_bad_ones_left_out_with_a_reason(site):
    urls = [f"{site.url}/img/red.jpg", f"{site.url}/img/blue.png", f"{site.url}/img/fake.jpg",
            f"{site.url}/img/truncated.jpg", f"{site.url}/gone", f"{site.url}/big", f"{site.url}/hop",
            f"{site.url}/cut", "ftp://example.org/a.jpg"]
    seen = []
    kept, rejected = web.download_images(urls, allow_private=True, max_bytes=2**20, timeout=5,
                                         progress=lambda done, total: seen.append((done, total)))
    assert [name for name, _ in kept] == ["000.jpg", "001.png", "006.jpg"]          # the redirect is followed
    reasons = {r.name: r.reason for r in rejected}
    assert "not an image this server can read" in reasons["002.jpg"]
    assert "damaged or truncated" in reasons["003.jpg"]
    assert reasons["004.jpg"] == "the site answered HTTP 404"
    assert reasons["005.jpg"] == "it is larger than 1 MB"
    assert "could not be downloaded" in reasons["007.jpg"] or "damaged" in reasons["007.jpg"]
    assert "could not be downloaded" in reasons["008.jpg"]
    assert seen[-1] == (9, 9) and len(seen) == 9


def test_a_site_that_trickles_is_cut_off(site):
    """A byte every 0.1 s never trips a 0.5 s socket timeout; the download's own deadline stops it (otherwise the
    40 bytes would arrive and be refused as 'not an image')."""
    kept, rejected = web.download_images([f"{site.url}/slow"], allow_private=True, timeout=0.5)
    assert not kept and "could not be downloaded" in rejected[0].reason


def test_private_addresses_and_redirects_into_them_are_refused(site):
    kept, rejected = web.download_images([f"{site.url}/img/red.jpg", "http://169.254.169.254/latest/meta-data"],
                                         timeout=2)
    assert not kept
    assert all("inside a private network" in r.reason for r in rejected)


def test_photos_of_each_class_make_the_zip_a_run_trains_on(site):
    urls = {"bird photo": [f"{site.url}/img/red.jpg", f"{site.url}/img/fake.jpg", f"{site.url}/hop"],
            "forest photo": [f"{site.url}/img/blue.png", f"{site.url}/gone", f"{site.url}/img/blue.png"]}
    asked = []

    def search(term, n):
        asked.append((term, n))
        return urls[term][:n]

    found, left_out = web.photos_of({"bird": "bird photo", "forest": "forest photo"}, 3, search=search,
                                    allow_private=True, timeout=5)
    assert asked == [("bird photo", 3), ("forest photo", 3)]
    assert {k: len(v) for k, v in found.items()} == {"bird": 2, "forest": 2}
    assert sorted(r.name for r in left_out) == ["bird/001.jpg", "forest/001.jpg"]
    items = load_zip(bundle_classes(found))
    assert items.vocab == ["bird", "forest"] and len(items) == 4


def test_offline_or_without_the_package_the_option_says_why(monkeypatch):
    import importlib.util
    monkeypatch.setenv("LESSON1_OFFLINE", "1")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "ddgs" else real(name, *a))
    assert "this server is offline" in web.unavailable()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ddgs" else real(name, *a))
    assert "needs the Python package ddgs" in web.unavailable()


def test_a_failing_search_is_a_sentence(monkeypatch):
    import sys
    import types

    class Broken:
        def __init__(self, **kwargs):
            pass

        def images(self, *args, **kwargs):
            raise RuntimeError("https://internal/search?token=abc failed: 429")

    monkeypatch.setitem(sys.modules, "ddgs", types.SimpleNamespace(DDGS=Broken))
    from core.errors import StudentError
    with pytest.raises(StudentError, match="did not answer. Try again in a minute.") as e:
        web.search_images("bird photo")
    assert "internal" not in str(e.value)


def test_search_results_keep_only_web_addresses(monkeypatch):
    import sys
    import types
    calls = []

    class Search:
        def __init__(self, **kwargs):
            pass

        def images(self, query, **kwargs):
            calls.append((query, kwargs))
            return [{"image": "https://a.org/1.jpg"}, {"image": "file:///etc/passwd"}, {"title": "no image"},
                    "junk", {"image": "http://b.org/2.png"}]

    monkeypatch.setitem(sys.modules, "ddgs", types.SimpleNamespace(DDGS=Search))
    assert web.search_images("bird photo", 5) == ["https://a.org/1.jpg", "http://b.org/2.png"]
    assert calls == [("bird photo", {"max_results": 5, "safesearch": "on"})]
