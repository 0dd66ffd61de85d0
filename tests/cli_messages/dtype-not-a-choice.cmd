netspec summary lenet5.yaml --dtype float8
