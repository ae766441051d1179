"""Photos from the web, the way the course's notebook gets them: search for each class (`search_images`), download
the results (`download_images`) and keep only the files that really are images (fastai's `verify_images`).

The search goes through `ddgs`, the maintained successor of the `duckduckgo_search` package the notebook uses
(a metasearch library: DuckDuckGo, Bing and others, no API key), with safe search on: students use it. Every
download is bounded in bytes and in time, and goes only to public addresses (a search result, or a redirect, that
points inside the server's own network is refused), and every file goes through core.images.check_image.
"""
from __future__ import annotations

import importlib.util
import ipaddress
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Callable
from urllib.parse import urlsplit

from core.errors import StudentError
from core.images import Rejected, check_image

SEARCH_SITE = "https://duckduckgo.com"
PER_CLASS = 30                   # the course downloads 200 a class; 30 keeps a CPU lesson short
MAX_IMAGE_BYTES = 10 * 2**20
TIMEOUT_S = 10.0
EXTENSIONS = ("jpg", "jpeg", "png", "webp", "gif", "bmp")


class RefusedAddress(Exception):
    pass


def unavailable() -> str | None:
    """Why searching the web for photos cannot be done on this server right now (None: it can)."""
    from core.download import is_online
    if importlib.util.find_spec("ddgs") is None:
        return ("Searching the web needs the Python package ddgs, which is not installed on this server "
                "(`pip install ddgs`). Meanwhile, use the embedded photos, a zip of your own or the camera.")
    if not is_online(SEARCH_SITE):
        return ("Searching the web needs the internet, and this server is offline. Meanwhile, use the embedded "
                "photos, a zip of your own or the camera.")
    return None


def search_images(term: str, max_images: int = PER_CLASS) -> list[str]:
    """The course's `search_images(term, max_images)`: the addresses of photos the web search finds."""
    from ddgs import DDGS
    try:
        results = DDGS(timeout=int(TIMEOUT_S)).images(term, max_results=max_images, safesearch="on")
    except Exception:                 # ddgs raises its own exceptions, and network errors of every kind
        raise StudentError(f"The web search for '{term[:60]}' did not answer. Try again in a minute.") from None
    urls = [r.get("image") for r in results if isinstance(r, dict)]
    return [u for u in urls if isinstance(u, str) and u.startswith(("http://", "https://"))][:max_images]


def download_images(urls: list[str], *, max_bytes: int = MAX_IMAGE_BYTES, timeout: float = TIMEOUT_S,
                    workers: int = 8, allow_private: bool = False,
                    progress: Callable[[int, int], None] | None = None) -> tuple[list[tuple[str, bytes]], list[Rejected]]:
    """fastai's download_images + verify_images: each address downloaded (in parallel, at most `max_bytes` and
    `timeout` seconds each) and kept only if it is a usable image. Returns ([(file name, bytes)], [left out])."""
    def fetch(i_url):
        i, url = i_url
        ext = urlsplit(url).path.rsplit(".", 1)[-1].lower()
        name = f"{i:03d}.{ext if ext in EXTENSIONS else 'jpg'}"
        try:
            data = _get(url, max_bytes, timeout, allow_private)
        except RefusedAddress:
            return name, None, "its address is inside a private network, so it was not downloaded"
        except _TooBig:
            return name, None, f"it is larger than {max_bytes / 2**20:.0f} MB"
        except urllib.error.HTTPError as e:
            return name, None, f"the site answered HTTP {e.code}"
        except (OSError, ValueError, urllib.error.URLError):
            return name, None, "it could not be downloaded (the site did not answer, or broke off)"
        img, reason = check_image(data, name)
        return name, data if img is not None else None, reason

    kept, rejected, done = [], [], 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for name, data, reason in pool.map(fetch, enumerate(urls)):
            done += 1
            if progress:
                progress(done, len(urls))
            if data is None:
                rejected.append(Rejected(name, reason))
            else:
                kept.append((name, data))
    return kept, rejected


def photos_of(terms: dict[str, str], per_class: int = PER_CLASS, search: Callable[[str, int], list[str]] | None = None,
              progress: Callable[[str, int, int], None] | None = None, **download) -> tuple[dict, list[Rejected]]:
    """For each class, the photos found by searching for its term (`search`, search_images unless given):
    ({class: [(file name, bytes)]}, [left out])."""
    by_class, rejected = {}, []
    for label, term in terms.items():
        urls = (search or search_images)(term, per_class)
        tick = (lambda done, total, label=label: progress(label, done, total)) if progress else None
        kept, left_out = download_images(urls, progress=tick, **download)
        by_class[label] = kept
        rejected += [Rejected(f"{label}/{r.name}", r.reason) for r in left_out]
    return by_class, rejected


class _TooBig(Exception):
    pass


def _public(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("only http and https addresses are downloaded")
    if allow_private:
        return
    for info in socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)):
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise RefusedAddress(url)


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, allow_private: bool):
        self.allow_private = allow_private

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        _public(newurl, self.allow_private)         # a redirect may point anywhere: checked like the first address
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _get(url: str, max_bytes: int, timeout: float, allow_private: bool) -> bytes:
    _public(url, allow_private)
    opener = urllib.request.build_opener(_CheckedRedirects(allow_private))
    request = urllib.request.Request(url, headers={"User-Agent": "Mozilla/5.0 (lesson1-app)"})
    with opener.open(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise _TooBig()
        chunks, size, deadline = [], 0, time.monotonic() + 3 * timeout   # a site trickling bytes is cut off too
        while chunk := response.read1(64 * 1024):                      # what has come, not a full 64 kB
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise _TooBig()
            if time.monotonic() > deadline:
                raise TimeoutError(url)
    return b"".join(chunks)
