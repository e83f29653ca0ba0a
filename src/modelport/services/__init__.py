"""Use cases shared by the native API and the dialects: register, deploy, scale, query…

Each function validates its input (raising `Invalid` naming the field), runs in one store
transaction, and wakes the controller after a change. HTTP knows nothing of this layer's
internals and this layer knows nothing of HTTP.
"""
