"""python -m plugins.architectures.landmarks: write the landmark architecture files."""

from plugins.architectures.landmarks import write

for path in write():
    print(path)
