{
  "targets": [{
    "target_name": "layerfs_sys",
    "sources": ["sys.c"],
    "cflags": ["-O2", "-Wall"]
  }, {
    "target_name": "layerfs_engine",
    "sources": ["engine.c"],
    "cflags": ["-O2", "-Wall"],
    "libraries": ["-lpthread"]
  }, {
    "target_name": "layerfs-init",
    "type": "executable",
    "sources": ["init.c", "confine.c"],
    "cflags": ["-O2", "-Wall"],
    "libraries": ["-lseccomp"]
  }]
}
