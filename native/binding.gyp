{
  "targets": [{
    "target_name": "layerfs_sys",
    "sources": ["sys.c"],
    "cflags": ["-O2", "-Wall"]
  }]
}
