#!/usr/bin/env python3
"""Check the Lambda's release zip: one file, `bootstrap`, an executable aarch64 ELF, and a zipped
size under the limit (the upload limit is 50 MB, but a small package loads faster on a cold
start; our goal is 4 MB). Prints the sizes; exits 1 on any failure.

    python3 local/check_release.py target/lambda/arm64/s3-dr-lambda/bootstrap.zip [--max-bytes N]
"""
import argparse
import os
import stat
import struct
import sys
import zipfile

# https://docs.aws.amazon.com/lambda/latest/dg/runtimes-provided.html: an OS-only runtime runs
# the executable named `bootstrap` at the root of the package.
ENTRY = "bootstrap"
EM_AARCH64 = 183  # ELF e_machine, from the System V ABI's list


def check(path: str, max_bytes: int) -> list[str]:
    problems = []
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if names != [ENTRY]:
            return [f"the zip must hold exactly one file named {ENTRY}, it holds {names}"]
        info = archive.getinfo(ENTRY)
        mode = info.external_attr >> 16
        if not mode & stat.S_IXUSR:
            problems.append(f"{ENTRY} is not executable (mode {oct(mode)})")
        with archive.open(ENTRY) as binary:
            header = binary.read(20)
        unzipped = info.file_size
    if header[:4] != b"\x7fELF":
        problems.append(f"{ENTRY} is not an ELF file")
    elif header[4] != 2 or header[5] != 1:
        problems.append(f"{ENTRY} is not a 64-bit little-endian ELF")
    else:
        (machine,) = struct.unpack_from("<H", header, 18)
        if machine != EM_AARCH64:
            problems.append(f"{ENTRY} is built for ELF machine {machine}, not aarch64 ({EM_AARCH64})")
    zipped = os.path.getsize(path)
    print(f"{path}: {zipped / 1e6:.2f} MB zipped (limit {max_bytes / 1e6:.2f} MB), {ENTRY} {unzipped / 1e6:.2f} MB unzipped, aarch64 ELF")
    if zipped >= max_bytes:
        problems.append(f"the zip is {zipped} bytes, over the {max_bytes}-byte goal")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("zip")
    parser.add_argument("--max-bytes", type=int, default=4_000_000)
    args = parser.parse_args()
    problems = check(args.zip, args.max_bytes)
    for problem in problems:
        print(f"release zip check failed: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
