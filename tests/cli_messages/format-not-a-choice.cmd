netspec summary lenet5.yaml --format xml
