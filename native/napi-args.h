// The N-API argument helpers native/sys.c and native/engine.c share.
#ifndef LAYERFS_NAPI_ARGS_H
#define LAYERFS_NAPI_ARGS_H
#include <node_api.h>

#define ARGS(n)                                             \
  size_t argc = n;                                          \
  napi_value argv[n];                                       \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);

static inline napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static inline double arg_num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

#endif
