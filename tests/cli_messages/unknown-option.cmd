netspec summary lenet5.yaml --bogus
