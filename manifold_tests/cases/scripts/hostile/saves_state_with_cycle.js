// expect: the script's state cannot be saved: .*circular.*Nothing was imported
// A state that JSON cannot hold would be committed wrong, or not at all: the run fails first.
emit([{ id: 2 }]);
state.parent = { state };
