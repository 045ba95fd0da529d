"""Run page section: the run's image artifacts (e.g. a GAN's ``samples/epoch_NNN.png`` grids),
the latest of each folder first, with a slider back through the epochs. Nothing is drawn for a
run without images. Reads go through ``dashboard.data`` (cached here), never MLflow directly."""

from __future__ import annotations

import posixpath
import re

import streamlit as st

from dashboard import data, url_sync
from dashboard.text import notice

TTL = 10  # s: a running run adds an image per epoch
_NUMBER = re.compile(r"(\d+)\.\w+$")


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=64)
def _images(run_id: str) -> list[str]:
    return data.image_artifacts(run_id)


@st.cache_data(ttl=TTL * 30, show_spinner=False, max_entries=64)
def _image(run_id: str, path: str) -> bytes | None:
    return data.read_artifact_bytes(run_id, path)  # logged artifacts do not change: cache longer


def _label(path: str) -> str:
    m = _NUMBER.search(path)
    name = posixpath.basename(path)
    return f"epoch {int(m.group(1))}" if m and name.startswith("epoch_") else name


def section(run_id: str) -> None:
    """Draw the run's images, one block per artifact folder; nothing when there are none."""
    try:
        paths = _images(run_id)
    except Exception as exc:  # noqa: BLE001 - a store failure is shown, the rest of the page still draws
        notice(f"Cannot list the run's image artifacts: {type(exc).__name__}: {exc}")
        return
    if not paths:
        return
    folders: dict[str, list[str]] = {}
    for p in paths:
        folders.setdefault(posixpath.dirname(p), []).append(p)
    st.subheader("Images")
    cols = st.columns(min(len(folders), 3))
    for i, (folder, files) in enumerate(sorted(folders.items())):
        with cols[i % len(cols)]:
            key = f"run_image_{folder or 'root'}"
            url_sync.keep_valid(key, files, files[-1])
            path = (st.select_slider(folder or "Images", files, key=key, format_func=_label)
                    if len(files) > 1 else files[0])
            content = _image(run_id, path)
            if content is None:
                st.caption(f"{path} is no longer in the store.")
                continue
            st.image(content, caption=path, width=320)
