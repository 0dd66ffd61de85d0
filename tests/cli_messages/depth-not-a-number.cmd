netspec summary lenet5.yaml --depth x
