"""`syncd restore`: download a remote folder tree into a local directory, safely and resumably."""
