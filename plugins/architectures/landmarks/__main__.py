"""python -m plugins.architectures.landmarks: write the landmark architecture files."""

from . import write

for path in write():
    print(path)
