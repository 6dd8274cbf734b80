// expect: call_python is not defined
return [{ id: 1, text: call_python("dukpy.load_module", "/etc/passwd") }];
