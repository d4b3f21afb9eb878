"""Output names (the command-line contract) and the content hash."""

from __future__ import annotations

import hashlib

import pytest

from analyzer.hashing import content_hash
from analyzer.naming import mirrored_stems, numbered, output_path, output_stems, unique_stems


def test_whole_file_name_is_kept_with_its_extension(tmp_path):
    assert output_stems(["calls/call.v1.wav"]) == ["call.v1.wav"]
    assert output_path(tmp_path, "call.v1.wav", ".json") == tmp_path / "call.v1.wav.json"
    assert output_path(tmp_path, "call.v1.wav", ".csv").name == "call.v1.wav.csv"


def test_same_name_from_two_folders_is_numbered_in_input_order():
    stems = output_stems(["a/call.wav", "b/call.wav", "c/other.mp4", "d/call.wav"])
    assert stems == ["call.wav", "call.wav~2", "other.mp4", "call.wav~3"]


def test_numbering_never_takes_a_name_another_input_has():
    # The second "x.wav" would be "x.wav~2", but an input is literally called that.
    assert unique_stems(["x.wav", "x.wav", "x.wav~2"]) == ["x.wav", "x.wav~3", "x.wav~2"]
    assert len(set(unique_stems(["a", "a", "a~2", "a~3", "a"]))) == 5
    with pytest.raises(ValueError):
        numbered("a", 0)


def test_batch_mirrors_paths_relative_to_the_folder_given(tmp_path):
    root, other = tmp_path / "recordings", tmp_path / "more"
    items = [
        (root / "2026" / "11" / "call.wav", root),
        (other / "2026" / "11" / "call.wav", other),  # same relative path from another folder
        (tmp_path / "loose.wav", None),  # a file given directly keeps its name only
        (tmp_path / "elsewhere" / "x.wav", root),  # not under its root: name only
    ]
    assert mirrored_stems(items) == ["2026/11/call.wav", "2026/11/call.wav~2", "loose.wav", "x.wav"]
    assert output_path(tmp_path, "2026/11/call.wav~2") == tmp_path / "2026/11/call.wav~2.json"


def test_a_recordings_folder_named_like_a_dataset_becomes_the_second_claimant(tmp_path):
    items = [(tmp_path / "calls" / "x.wav", tmp_path), (tmp_path / "calls.wav", tmp_path)]
    assert mirrored_stems(items, reserved=["calls"]) == ["calls~2/x.wav", "calls.wav"]


def test_output_path_stays_inside_the_output_folder(tmp_path):
    for bad in ("../x.wav", "/etc/x.wav"):
        with pytest.raises(ValueError):
            output_path(tmp_path, bad)
    with pytest.raises(ValueError):
        output_path(tmp_path, "x.wav", "json")


def test_content_hash_is_sha256_of_the_bytes_read_in_blocks(tmp_path):
    data = bytes(range(256)) * 9000  # 2.3 MB: more than one 1 MiB block
    a, b = tmp_path / "a.wav", tmp_path / "renamed.bin"
    a.write_bytes(data)
    b.write_bytes(data)
    assert content_hash(a) == hashlib.sha256(data).hexdigest() == content_hash(b)
    b.write_bytes(data[:-1] + b"\x00")
    assert content_hash(b) != content_hash(a)
