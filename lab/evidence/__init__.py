"""Evidence from the wire: packet captures on every link end and their dissection."""
