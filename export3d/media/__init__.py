"""Media I/O: decoding and encoding images and videos, atomic file writes, telling images from videos."""
