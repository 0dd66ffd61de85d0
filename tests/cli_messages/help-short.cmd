netspec check -h
