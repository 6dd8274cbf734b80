// expect: the script threw Error: upstream said no
throw new Error("upstream said no");
