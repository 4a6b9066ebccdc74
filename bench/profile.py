"""Read py-spy's collapsed stacks: where the server's time goes, inclusive and self."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def main() -> None:
    """Print the top frames of a `py-spy record --format raw` file."""
    path, top = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 40
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    print(f"{total} samples")
    print("-- inclusive")
    for frame, n in inclusive.most_common(top):
        print(f"{100 * n / total:5.1f}%  {frame}")
    print("-- self")
    for frame, n in own.most_common(top):
        print(f"{100 * n / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
